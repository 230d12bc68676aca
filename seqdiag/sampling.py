"""Running a sampling procedure (defined in `seqdiag.procedures`) on a model, and the traces it leaves."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqdiag import judgement, procedures
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding, InputPolicy, Rollout, unroll
from seqdiag.sequence import SequenceSet, ToySequence


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
    steps = spec.steps(sequence.steps)
    true_inputs = sequence.input_vectors()[:steps].to(model.embed_weight.device)  # (T, V)
    true_inputs = true_inputs.expand(model.n_models, rollouts, *true_inputs.shape)  # (N, B, T, V)
    return _run(model, true_inputs, procedure, decoding, sequence.prompt, generator)


@torch.no_grad()
def run_procedure_on_set(
    model: SequenceModel,
    sequences: SequenceSet,
    procedure: str,
    decoding: Decoding = Decoding(),
    *,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Run one procedure on every sequence of a set at once: B = sequences, padded to the longest.

    Row i is the procedure's run on sequence i for its first `procedures.get(procedure).steps(...)` steps (a
    recurrent step never sees later inputs, so the padding after a sequence's end changes none of them).
    """
    spec = procedures.get(procedure)
    true_inputs = sequences.batch_inputs()[:, : spec.steps(sequences.steps)].to(model.embed_weight.device)
    true_inputs = true_inputs.expand(model.n_models, *true_inputs.shape)  # (N, B, T, V)
    return _run(model, true_inputs, procedure, decoding, sequences.prompt, generator)


def _run(
    model: SequenceModel,
    true_inputs: torch.Tensor,
    procedure: str,
    decoding: Decoding,
    prompt: int,
    generator: torch.Generator | None,
) -> Rollout:
    spec = procedures.get(procedure)
    was_training = model.training
    model.eval()
    try:
        decode = decoding if spec.decoding == "configured" else Decoding()
        policy = InputPolicy(spec.policy, given=prompt)
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
    prompt: int = 0  # steps before this one were given (fed the true symbols) and are not judged

    @property
    def output(self) -> str:
        return "".join(s.predicted for s in self.steps)

    @property
    def judged(self) -> int:
        """Targets judged: all but the prompt's (see `seqdiag.judgement`)."""
        return judgement.judged_targets(self.targets, self.prompt)

    @property
    def correct_count(self) -> int:
        return judgement.correct(self.output, self.targets, self.prompt)

    @property
    def accuracy(self) -> float:
        """Share of the judged targets predicted right; a target the procedure never reaches counts as wrong."""
        return self.correct_count / self.judged

    @property
    def first_divergence(self) -> int | None:
        """First judged step whose prediction is wrong or missing; None when every judged target is matched."""
        return judgement.first_divergence(self.output, self.targets, self.prompt)

    @property
    def pattern_accuracy(self) -> float:
        """Share of the judged pattern (the judged targets but the end symbol) predicted right."""
        pattern = self.targets[:-1]
        return judgement.correct(self.output, pattern, self.prompt) / max(1, len(pattern) - self.prompt)

    @property
    def end_symbol(self) -> bool | None:
        """Whether the last target (the end symbol) was predicted; None when the procedure never reaches it."""
        return judgement.end_symbol(self.output, self.targets)


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
    return Trace(procedure, steps, sequence.target_text(), sequence.prompt)


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
