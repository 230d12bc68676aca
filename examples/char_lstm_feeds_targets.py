"""Bug: the loop feeds the true next character instead of its own prediction: teacher forcing at sampling time.
It looks perfect and measures nothing.

seqdiag check examples/char_lstm_feeds_targets.py  ->  sampler-feeds-targets
"""

import torch
from char_lstm_model import text, trained, vocab

model = trained()
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads
sequence = text
ids = [vocab.index(c) for c in text]


def generate(model, prompt, n):
    logits, state = model(torch.tensor([prompt]))
    out = []
    for t in range(n):
        out.append(int(logits[0, -1].argmax()))
        logits, state = model(torch.tensor([[ids[len(prompt) + t]]]), state)  # the data, not the prediction
    return out
