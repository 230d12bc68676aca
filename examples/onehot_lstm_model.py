"""The 2015 Keras setup in PyTorch: one-hot float vectors in, Linear -> LSTM -> Linear, trained with teacher
forcing on `S0101...01S` (keras-team/keras#273).

The onehot_*.py examples import this; it trains once per process (a few seconds on a CPU, fixed seed).
"""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

vocab = "S01"
text = "S" + "01" * 10 + "S"


class OneHotLSTM(nn.Module):
    def __init__(self, vocab_size: int, embed: int = 10, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Linear(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):  # x: (batch, time, vocab) one-hot vectors
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def one_hot(ids: list[int]) -> torch.Tensor:
    """(1, T, V) one-hot vectors of the ids."""
    return F.one_hot(torch.tensor([ids]), len(vocab)).float()


def forward(model: OneHotLSTM, tokens: torch.Tensor) -> torch.Tensor:
    """How the model reads a known sequence: (T,) ids -> (T, V) logits (seqdiag check's protocol)."""
    logits, _ = model(one_hot(tokens.tolist()))
    return logits[0]


@cache
def trained() -> OneHotLSTM:
    torch.manual_seed(0)
    model = OneHotLSTM(len(vocab))
    ids = [vocab.index(c) for c in text]
    x, y = one_hot(ids[:-1]), torch.tensor(ids[1:])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(150):
        logits, _ = model(x)
        loss = F.cross_entropy(logits[0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
