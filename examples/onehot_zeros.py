"""The 2015 sampler: one pass over the start symbol followed by zero vectors (keras-team/keras#273). The model never
saw a zero vector in training, and its own predictions are never fed back.

seqdiag check examples/onehot_zeros.py  ->  sampler-unseen-inputs
"""

import torch
from onehot_lstm_model import forward, text, trained, vocab

model = trained()
sequence = text
__all__ = ["model", "vocab", "sequence", "generate", "forward"]  # what seqdiag check reads


def generate(model, prompt, n):
    x = torch.zeros(1, len(prompt) + n - 1, len(vocab))  # the prompt, then zeros
    for t, token in enumerate(prompt):
        x[0, t, token] = 1.0
    logits, _ = model(x)
    return logits[0, len(prompt) - 1 :].argmax(-1)
