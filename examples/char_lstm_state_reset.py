"""Bug: the state returned by each call is dropped, so every step starts fresh (a char-rnn port's bug).

seqdiag check examples/char_lstm_state_reset.py  ->  sampler-state-reset
"""

import torch
from char_lstm_model import text, trained, vocab

model = trained()
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads
sequence = text


def generate(model, prompt, n):
    logits, _ = model(torch.tensor([prompt]))
    out = []
    for _ in range(n):
        next_id = int(logits[0, -1].argmax())
        out.append(next_id)
        logits, _ = model(torch.tensor([[next_id]]))  # the state is not passed: a fresh one each step
    return out
