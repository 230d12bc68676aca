"""The model: one-hot -> Linear -> recurrent cell -> Linear, as a stack of independent copies.

Every weight carries a leading *model* dimension N. A single run is N = 1; a sweep over seeds trains
N models at once with the same code (each copy initialised from its own seed, each copy's loss
independent of the others), so single runs and sweeps can never drift apart.

Shapes used throughout: N models, B rollouts per model, T steps, V vocabulary, E embed, H hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqdiag import fused
from seqdiag.config import CELL_BLOCKS, ModelConfig

State = tuple[torch.Tensor, ...]  # each (N, B, H); state[0] is the hidden state h


def keras_hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 0.x hard_sigmoid: clip(0.2 x + 0.5, 0, 1); torch's hardsigmoid has slope 1/6, hence the 1.2."""
    return F.hardsigmoid(x * 1.2)


GATE_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "hard_sigmoid": keras_hard_sigmoid,
    "sigmoid": torch.sigmoid,
}


class SequenceModel(nn.Module):
    """N independent copies of one-hot -> Linear(E) -> cell(H) -> Linear(V).

    The step API `step(x, state) -> (logits, state)` is what every sampling procedure and every
    training policy feeds; `forward` runs a whole known input sequence (the fast path).
    """

    def __init__(self, vocab_size: int, config: ModelConfig, seeds: Sequence[int]) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.hidden_size = config.hidden_size
        self.cell = config.cell
        self.gate = GATE_FUNCTIONS[config.gate]
        n, v, e, h = len(seeds), vocab_size, config.embed_size, config.hidden_size
        g = CELL_BLOCKS[config.cell] * h
        self.embed_weight = nn.Parameter(torch.empty(n, v, e))
        self.embed_bias = nn.Parameter(torch.empty(n, e))
        self.cell_weight_ih = nn.Parameter(torch.empty(n, e, g))
        self.cell_weight_hh = nn.Parameter(torch.empty(n, h, g))
        self.cell_bias = nn.Parameter(torch.empty(n, g))
        self.out_weight = nn.Parameter(torch.empty(n, h, v))
        self.out_bias = nn.Parameter(torch.empty(n, v))
        self.reset_parameters(seeds)

    @property
    def n_models(self) -> int:
        return self.embed_weight.shape[0]

    @torch.no_grad()
    def reset_parameters(self, seeds: Sequence[int]) -> None:
        """Initialise copy i from seeds[i] alone, as torch's nn.Linear/nn.LSTM do: U(-1/sqrt(fan), 1/sqrt(fan)).

        So copy i of a stack equals a single model built with seeds=[seeds[i]].
        """
        bounds = {
            "embed_weight": 1 / math.sqrt(self.vocab_size),
            "embed_bias": 1 / math.sqrt(self.vocab_size),
            "cell_weight_ih": 1 / math.sqrt(self.hidden_size),
            "cell_weight_hh": 1 / math.sqrt(self.hidden_size),
            "cell_bias": 1 / math.sqrt(self.hidden_size),
            "out_weight": 1 / math.sqrt(self.hidden_size),
            "out_bias": 1 / math.sqrt(self.hidden_size),
        }
        for i, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(int(seed))
            for name, bound in bounds.items():
                param = getattr(self, name)
                values = torch.empty(param.shape[1:]).uniform_(-bound, bound, generator=generator)
                param[i].copy_(values)

    def initial_state(self, batch: int) -> State:
        """Zero state: (h,) or (h, c), each (N, B, H)."""
        zeros = self.embed_bias.new_zeros(self.n_models, batch, self.hidden_size)
        return (zeros, zeros.clone()) if self.cell == "lstm" else (zeros,)

    def project_input(self, x: torch.Tensor) -> torch.Tensor:
        """(N, B, ..., V) inputs -> (N, B, ..., G*H) the cell's input pre-activations (bias included)."""
        n, shape = x.shape[0], x.shape[1:-1]
        flat = x.reshape(n, -1, x.shape[-1])  # (N, B*T, V)
        embedded = torch.baddbmm(self.embed_bias.unsqueeze(1), flat, self.embed_weight)
        projected = torch.baddbmm(self.cell_bias.unsqueeze(1), embedded, self.cell_weight_ih)
        return projected.reshape(n, *shape, projected.shape[-1])

    def advance(self, projected: torch.Tensor, state: State) -> State:
        """One cell update from input pre-activations (N, B, G*H) and the previous state."""
        h_size = self.hidden_size
        if self.cell == "lstm":
            h, c = state
            pre = torch.baddbmm(projected, h, self.cell_weight_hh)
            i, f, o = self.gate(pre[..., : 3 * h_size]).chunk(3, dim=-1)
            candidate = torch.tanh(pre[..., 3 * h_size :])
            c = torch.addcmul(f * c, i, candidate)
            return (o * torch.tanh(c), c)
        if self.cell == "gru":
            (h,) = state
            recurrent = torch.bmm(h, self.cell_weight_hh)
            z, r = self.gate(projected[..., : 2 * h_size] + recurrent[..., : 2 * h_size]).chunk(2, dim=-1)
            candidate = torch.tanh(torch.addcmul(projected[..., 2 * h_size :], r, recurrent[..., 2 * h_size :]))
            return (torch.addcmul(candidate, z, h - candidate),)
        (h,) = state
        return (torch.tanh(torch.baddbmm(projected, h, self.cell_weight_hh)),)

    def readout(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, B, ..., H) hidden states -> (N, B, ..., V) logits."""
        n, shape = hidden.shape[0], hidden.shape[1:-1]
        flat = hidden.reshape(n, -1, hidden.shape[-1])
        logits = torch.baddbmm(self.out_bias.unsqueeze(1), flat, self.out_weight)
        return logits.reshape(n, *shape, self.vocab_size)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one input (N, B, V); returns logits (N, B, V) and the new state."""
        state = self.advance(self.project_input(x), state)
        return self.readout(state[0]), state

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Run a known input sequence (N, B, T, V); returns logits (N, B, T, V), hidden (N, B, T, H), state.

        The recurrence runs in `seqdiag.fused` (one autograd node with a hand-written backward), which
        computes what `forward_stepwise` does through `advance`, at a fraction of the per-op overhead.
        """
        state = self.initial_state(x.shape[1]) if state is None else state
        if self.cell in fused.FUSED_CELLS and self.config.gate in fused.FUSED_GATES:
            hidden, state = fused.sequence_forward(self, x, state)
            return self.readout(hidden), hidden, state
        return self._run_stepwise(self.project_input(x), state)

    def forward_stepwise(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, torch.Tensor, State]:
        """`forward` by plain autograd through `advance`, one step at a time: the reference the fused path is
        tested against, and the fallback for cells or gates it does not cover."""
        projected = self.project_input(x)
        state = self.initial_state(x.shape[1]) if state is None else state
        return self._run_stepwise(projected, state)

    def _run_stepwise(self, projected: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor, State]:
        hiddens = []
        for t in range(projected.shape[2]):
            state = self.advance(projected[:, :, t], state)
            hiddens.append(state[0])
        hidden = torch.stack(hiddens, dim=2)
        return self.readout(hidden), hidden, state


def build_model(vocab_size: int, config: ModelConfig, seeds: Sequence[int], device: str = "cpu") -> SequenceModel:
    return SequenceModel(vocab_size, config, seeds).to(device)
