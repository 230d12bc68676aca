"""Measurements on a trained model that explain a procedure's behaviour, beyond its output.

- input_novelty: are the vectors a procedure feeds ones that training ever fed?
- input_reliance: on the teacher-forced trajectory, does the prediction change when the input is
  swapped (another symbol, a zero vector) or the state is reset? If swapping the input changes it,
  the output is a lookup on the input, and at an input training never fed it is not fixed by training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag.model import SequenceModel, State
from seqdiag.sequence import ToySequence
from seqdiag.table import Column, Row, TableSpec


@dataclass(frozen=True)
class InputNovelty:
    """How many fed vectors never occur among the training inputs, and how far the nearest one is."""

    fed: int
    unseen: int
    zero_vectors: int
    nearest_distance: float  # largest over fed vectors of the L2 distance to the nearest training input
    unseen_steps: list[int]


def input_novelty(training_inputs: torch.Tensor, fed: torch.Tensor) -> InputNovelty:
    """(T_train, V) inputs training fed, (T, V) inputs a procedure fed."""
    known = torch.unique(training_inputs.float().cpu(), dim=0)  # (K, V)
    fed = fed.float().cpu()
    distances = torch.cdist(fed, known).min(dim=1).values  # (T,)
    unseen = distances > 1e-6
    return InputNovelty(
        fed=fed.shape[0],
        unseen=int(unseen.sum()),
        zero_vectors=int((fed.abs().sum(-1) == 0).sum()),
        nearest_distance=float(distances.max()) if fed.shape[0] else 0.0,
        unseen_steps=[int(t) for t in torch.nonzero(unseen).flatten()],
    )


DRIFT_TOLERANCE = 0.25  # L2 distance between hidden states (each unit in [-1, 1]) counted as "left the trajectory"


@dataclass(frozen=True)
class HiddenDrift:
    """Per step, how far a procedure's hidden state is from the teacher-forced one."""

    distances: list[float]
    tolerance: float
    left_at: int | None  # first step beyond the tolerance; None if it never leaves


def hidden_drift(
    reference: list[list[float]], other: list[list[float]], tolerance: float = DRIFT_TOLERANCE
) -> HiddenDrift:
    """L2 distance per step between two hidden-state trajectories (the shorter one sets the length)."""
    steps = min(len(reference), len(other))
    ref = torch.tensor(reference[:steps])
    oth = torch.tensor(other[:steps])
    distances = (ref - oth).norm(dim=-1).tolist() if steps else []
    left = next((t for t, d in enumerate(distances) if d > tolerance), None)
    return HiddenDrift([round(d, 6) for d in distances], tolerance, left)


@dataclass(frozen=True)
class InputReliance:
    """Share of teacher-forced predictions (steps 1..T-1) that change under each ablation."""

    steps: int
    changed_by_other_symbol: int  # over `other_symbol_trials` (every other symbol at every step)
    other_symbol_trials: int
    changed_by_zero_input: int  # over `steps`
    changed_by_state_reset: int  # true input, fresh zero state; over `steps`
    sequences: int = 1  # the sequences of the task the counts sum over

    @property
    def other_symbol_share(self) -> float:
        return self.changed_by_other_symbol / max(1, self.other_symbol_trials)

    @property
    def zero_input_share(self) -> float:
        return self.changed_by_zero_input / max(1, self.steps)

    @property
    def state_reset_share(self) -> float:
        return self.changed_by_state_reset / max(1, self.steps)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.sequences == 1:
            del data["sequences"]  # one sequence: the JSON stays as it was before tasks had several
        return {
            **data,
            "other_symbol_share": self.other_symbol_share,
            "zero_input_share": self.zero_input_share,
            "state_reset_share": self.state_reset_share,
        }

    def cells(self) -> tuple[str, str, str]:
        """changed/trials (share) under each ablation: another symbol, a zero vector, a state reset."""
        return (
            f"{self.changed_by_other_symbol}/{self.other_symbol_trials} ({self.other_symbol_share:.0%})",
            f"{self.changed_by_zero_input}/{self.steps} ({self.zero_input_share:.0%})",
            f"{self.changed_by_state_reset}/{self.steps} ({self.state_reset_share:.0%})",
        )


def input_reliance_over(model: SequenceModel, sequences: list[ToySequence], model_index: int = 0) -> InputReliance:
    """`input_reliance` on every sequence of a task, the counts summed (so the shares weigh every step alike)."""
    parts = [input_reliance(model, s, model_index) for s in sequences]
    return InputReliance(
        steps=sum(p.steps for p in parts),
        changed_by_other_symbol=sum(p.changed_by_other_symbol for p in parts),
        other_symbol_trials=sum(p.other_symbol_trials for p in parts),
        changed_by_zero_input=sum(p.changed_by_zero_input for p in parts),
        changed_by_state_reset=sum(p.changed_by_state_reset for p in parts),
        sequences=len(parts),
    )


def reliance_table(models: list[tuple[str, InputReliance]]) -> TableSpec:
    """One row per trained model (its label, its reliance): the share of predictions each ablation changes."""
    sequences = max((r.sequences for _, r in models), default=1)
    return TableSpec(
        title="Input reliance: teacher-forced predictions changed by an ablation",
        caption="other symbol / zero vector: the input replaced, state kept · state reset: true input, fresh state "
        "· high input shares = a lookup on the input; a high state share = carried by the state"
        + (f" · summed over all {sequences} sequences" if sequences > 1 else ""),
        columns=(
            Column("model", keep=True),
            *(Column(name, justify="right") for name in ("other symbol", "zero vector", "state reset")),
        ),
        rows=tuple(Row((label, *reliance.cells())) for label, reliance in models),
    )


@torch.no_grad()
def teacher_states(model: SequenceModel, sequence: ToySequence) -> list[State]:
    """The state before each step of the teacher-forced pass: element t is what step t starts from."""
    device = model.embed_weight.device
    inputs = sequence.input_vectors().to(device)[None, None].expand(model.n_models, 1, -1, -1)
    state = model.initial_state(1)
    states = [state]
    for t in range(inputs.shape[2] - 1):
        _, state = model.step(inputs[:, :, t], state)
        states.append(state)
    return states


@torch.no_grad()
def input_reliance(model: SequenceModel, sequence: ToySequence, model_index: int = 0) -> InputReliance:
    """Ablate the input and the state at every teacher-forced step t >= 1 of one model; count changed predictions."""
    was_training = model.training
    model.eval()
    try:
        device = model.embed_weight.device
        vocab = model.vocab_size
        states = teacher_states(model, sequence)[1:]  # steps 1..T-1
        steps = len(states)
        # All steps as one batch: state (N, steps, H), inputs (N, steps, V).
        batched: State = tuple(torch.cat([s[i] for s in states], dim=1) for i in range(len(states[0])))
        true_inputs = sequence.input_vectors().to(device)[1:]  # (steps, V)
        true_inputs = true_inputs.expand(model.n_models, -1, -1)

        def predict(x: torch.Tensor, state: State) -> torch.Tensor:
            return model.step(x, state)[0].argmax(-1)[model_index]  # (steps,)

        baseline = predict(true_inputs, batched)
        zero_changed = int((predict(torch.zeros_like(true_inputs), batched) != baseline).sum())
        reset_changed = int((predict(true_inputs, model.initial_state(steps)) != baseline).sum())
        true_index = sequence.inputs[1:].to(device)
        other_changed, trials = 0, 0
        for symbol in range(vocab):
            swapped = true_index != symbol  # steps where `symbol` is another symbol than the true one
            x = torch.nn.functional.one_hot(torch.full_like(true_index, symbol), vocab).float()
            changed = (predict(x.expand(model.n_models, -1, -1), batched) != baseline) & swapped
            other_changed += int(changed.sum())
            trials += int(swapped.sum())
        return InputReliance(steps, other_changed, trials, zero_changed, reset_changed)
    finally:
        model.train(was_training)
