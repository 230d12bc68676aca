"""A small causal transformer (stateless: every call re-reads what it is given), learned positions, trained on one
line where the next character depends on more than the last few.

The transformer_*.py examples import this; it trains once per process (a few seconds on a CPU, fixed seed).
"""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

text = "hello world, hello there."
vocab = "".join(sorted(set(text)))


class TinyTransformer(nn.Module):
    def __init__(self, vocab_size: int, d: int = 32, heads: int = 2, layers: int = 2, max_len: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(max_len, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, vocab_size)

    def forward(self, x):  # x: (batch, time) ids -> (batch, time, vocab) logits
        T = x.shape[1]
        h = self.embed(x) + self.pos(torch.arange(T))
        mask = nn.Transformer.generate_square_subsequent_mask(T)
        return self.head(self.blocks(h, mask=mask, is_causal=True))


@cache
def trained() -> TinyTransformer:
    torch.manual_seed(0)
    model = TinyTransformer(len(vocab))
    ids = torch.tensor([[vocab.index(c) for c in text]])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        loss = F.cross_entropy(model(ids[:, :-1])[0], ids[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
