"""A correct sampler for the char LSTM: feed each prediction back and carry the state.

seqdiag check examples/char_lstm_ok.py  ->  sampler-matches
"""

import torch
from char_lstm_model import text, trained, vocab

model = trained()
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads
sequence = text


def generate(model, prompt, n):
    logits, state = model(torch.tensor([prompt]))
    out = []
    for _ in range(n):
        next_id = int(logits[0, -1].argmax())
        out.append(next_id)
        logits, state = model(torch.tensor([[next_id]]), state)
    return out
