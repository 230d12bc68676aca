"""A character model as people write it: nn.Embedding + nn.LSTM(batch_first=True) + nn.Linear, trained on one line.

The char_lstm_*.py examples import this; it trains once per process (a few seconds on a CPU, fixed seed).
"""

from functools import cache

import torch
from torch import nn

text = "hello world, hello there."
vocab = "".join(sorted(set(text)))


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, embed: int = 16, hidden: int = 48) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):  # x: (batch, time) ids
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state  # (batch, time, vocab), (h, c)


@cache
def trained() -> CharLSTM:
    torch.manual_seed(0)
    model = CharLSTM(len(vocab))
    ids = torch.tensor([[vocab.index(c) for c in text]])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):  # teacher forcing: every step is fed the true previous character
        logits, _ = model(ids[:, :-1])
        loss = nn.functional.cross_entropy(logits[0], ids[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
