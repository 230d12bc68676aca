"""A word-level GRU written like PyTorch's word_language_model (pytorch/examples, model.py): input is (time, batch),
forward(input, hidden) returns log-probabilities of shape (time * batch, ntoken) and the new hidden state.

The word_gru_*.py examples import this; it trains once per process (a few seconds on a CPU, fixed seed).
"""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

words = "<s> the cat sat on the mat and the dog ran to the cat .".split()
vocab = sorted(set(words))


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder (as in word_language_model)."""

    def __init__(self, ntoken: int, ninp: int = 16, nhid: int = 32, nlayers: int = 1) -> None:
        super().__init__()
        self.ntoken, self.nhid, self.nlayers = ntoken, nhid, nlayers
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.GRU(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input, hidden):  # input: (time, batch) ids
        emb = self.encoder(input)
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz: int) -> torch.Tensor:
        weight = next(self.parameters())
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def forward(model: RNNModel, tokens: torch.Tensor) -> torch.Tensor:
    """How the model reads a known sequence: (T,) ids -> (T, V) log-probabilities (seqdiag check's protocol)."""
    output, _ = model(tokens[:, None], model.init_hidden(1))
    return output


@cache
def trained() -> RNNModel:
    torch.manual_seed(0)
    model = RNNModel(len(vocab))
    ids = torch.tensor([vocab.index(w) for w in words])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        output, _ = model(ids[:-1, None], model.init_hidden(1))
        loss = F.nll_loss(output, ids[1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
