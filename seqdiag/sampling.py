"""Running a sampling procedure (defined in `seqdiag.procedures`) on a model, and the traces it leaves."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqdiag import procedures
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding, InputPolicy, Rollout, unroll
from seqdiag.sequence import ToySequence


@torch.no_grad()
def run_procedure(
    model: SequenceModel,
    sequence: ToySequence,
    procedure: str,
    decoding: Decoding = Decoding(),
    *,
    rollouts: int = 1,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Run one procedure on every model of the stack, `rollouts` times each (all batched).

    Raises:
        ValueError: `procedure` is not in the registry.
    """
    spec = procedures.get(procedure)
    was_training = model.training
    model.eval()
    try:
        steps = spec.steps(sequence.steps)
        device = model.embed_weight.device
        true_inputs = sequence.input_vectors()[:steps].to(device)  # (T, V)
        true_inputs = true_inputs.expand(model.n_models, rollouts, *true_inputs.shape)  # (N, B, T, V)
        decode = decoding if spec.decoding == "configured" else Decoding()
        policy = InputPolicy(spec.policy)
        return unroll(model, true_inputs, policy, decode, state_handling=spec.state, generator=generator)
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class StepRecord:
    """One step of one procedure."""

    t: int
    input: str | None  # the symbol fed, None for a zero vector
    predicted: str
    target: str
    correct: bool
    p_predicted: float
    p_target: float
    entropy: float  # nats
    hidden: list[float]


@dataclass(frozen=True)
class Trace:
    """One procedure's steps for one model and rollout, compared with the targets."""

    procedure: str
    steps: list[StepRecord]
    targets: str  # the whole target sequence, which may be longer than the steps produced

    @property
    def output(self) -> str:
        return "".join(s.predicted for s in self.steps)

    @property
    def correct_count(self) -> int:
        return sum(s.correct for s in self.steps)

    @property
    def accuracy(self) -> float:
        """Share of all targets predicted right; a target the procedure never reaches counts as wrong."""
        return self.correct_count / len(self.targets)

    @property
    def first_divergence(self) -> int | None:
        """First step whose prediction is wrong or missing; None when every target is matched."""
        for s in self.steps:
            if not s.correct:
                return s.t
        return None if len(self.steps) == len(self.targets) else len(self.steps)

    @property
    def pattern_accuracy(self) -> float:
        """Share of the pattern (all targets but the end symbol) predicted right."""
        pattern = [s for s in self.steps if s.t < len(self.targets) - 1]
        return sum(s.correct for s in pattern) / (len(self.targets) - 1)

    @property
    def end_symbol(self) -> bool | None:
        """Whether the last target (the end symbol) was predicted; None when the procedure never reaches it."""
        if len(self.steps) < len(self.targets):
            return None
        return self.steps[-1].correct


def _input_symbol(vector: torch.Tensor, symbols: tuple[str, ...]) -> str | None:
    if float(vector.abs().sum()) == 0.0:
        return None
    return symbols[int(vector.argmax())]


def trace_of(rollout: Rollout, sequence: ToySequence, procedure: str, model: int = 0, rollout_index: int = 0) -> Trace:
    """Turn one model's / rollout's slice of a batched rollout into per-step records."""
    symbols = sequence.vocabulary.symbols
    logits = rollout.logits[model, rollout_index].float().cpu()  # (T, V)
    probs = torch.softmax(logits, dim=-1)
    log_probs = torch.log_softmax(logits, dim=-1)
    entropy = -(probs * log_probs).sum(-1)
    predicted = rollout.predicted[model, rollout_index].cpu()
    fed = rollout.inputs[model, rollout_index].cpu()
    hidden = rollout.hidden[model, rollout_index].float().cpu()
    targets = sequence.targets
    steps = []
    for t in range(predicted.shape[0]):
        target = int(targets[t])
        steps.append(
            StepRecord(
                t=t,
                input=_input_symbol(fed[t], symbols),
                predicted=symbols[int(predicted[t])],
                target=symbols[target],
                correct=int(predicted[t]) == target,
                p_predicted=float(probs[t, predicted[t]]),
                p_target=float(probs[t, target]),
                entropy=float(entropy[t]),
                hidden=[round(float(v), 6) for v in hidden[t]],
            )
        )
    return Trace(procedure, steps, sequence.target_text())


def sample(
    model: SequenceModel,
    sequence: ToySequence,
    procedure: str,
    decoding: Decoding = Decoding(),
    generator: torch.Generator | None = None,
) -> Trace:
    """Run one procedure on a single model and return its trace."""
    return trace_of(run_procedure(model, sequence, procedure, decoding, generator=generator), sequence, procedure)


def sample_all(
    model: SequenceModel,
    sequence: ToySequence,
    decoding: Decoding = Decoding(),
    names: tuple[str, ...] = procedures.NAMES,
    seed: int = 0,
) -> dict[str, Trace]:
    """Every procedure on a single model; the stochastic ones draw from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return {name: sample(model, sequence, name, decoding, generator) for name in names}
