"""Bug: the loop re-feeds only the last `maxlen` tokens (as the old Keras text-generation example did): "any
relationships longer than maxlen will not be captured".

seqdiag check examples/transformer_window.py  ->  sampler-window
"""

import torch
from transformer_model import text, trained, vocab

model = trained()
sequence = text
maxlen = 4
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads


def generate(model, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = model(torch.tensor([ids[-maxlen:]]))
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt) :]
