"""Bug: the loop appends the input it is about to feed instead of the prediction it made, so the output is the
right text shifted by one step.

seqdiag check examples/char_lstm_off_by_one.py  ->  sampler-off-by-one
"""

import torch
from char_lstm_model import text, trained, vocab

model = trained()
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads
sequence = text


def generate(model, prompt, n):
    state = None
    if len(prompt) > 1:
        _, state = model(torch.tensor([prompt[:-1]]))
    x = prompt[-1]
    out = []
    for _ in range(n):
        out.append(x)  # appends the input, not the prediction
        logits, state = model(torch.tensor([[x]]), state)
        x = int(logits[0, -1].argmax())
    return out
