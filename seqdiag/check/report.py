"""What `seqdiag check` returns: per sequence, the three procedures step by step, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqdiag.findings import Verdict


@dataclass(frozen=True)
class ProcedureStep:
    """One step of one procedure: the input fed, the symbol it produced, p(target) under the model."""

    input: str | None  # None = a zero vector; "<vector>" another non-one-hot vector; "<?>" unreadable
    predicted: str
    p_target: float
    correct: bool


@dataclass(frozen=True)
class CheckStep:
    t: int  # 0 = the first token after the prompt
    target: str
    teacher: ProcedureStep
    free: ProcedureStep
    sampler: ProcedureStep  # predicted = what generate returned
    sampler_argmax: str  # the top symbol of the logits row the sampler's token came from
    state: str  # carried | fresh | stateless | other: the state the sampler's call started from
    seen: int  # positions the model saw when it produced this step (its context)
    context_kind: str  # own | true | window | other: what that context was (see seqdiag.check.diagnose)


@dataclass(frozen=True)
class Intervention:
    """The sampler re-run with the model's top symbol at one step forced to another: does it feed that back?"""

    step: int
    was: str
    forced: str
    took: bool  # generate returned the forced symbol at that step
    fed_next: str | None  # what it fed at the next step in the forced run
    fed_next_before: str | None  # ... and in the plain run
    follows: bool  # fed_next == forced


@dataclass(frozen=True)
class SequenceCheck:
    index: int
    prompt: list[str]
    steps: list[CheckStep]
    intervention: Intervention | None

    def correct(self, procedure: str) -> int:
        return sum(getattr(s, procedure).correct for s in self.steps)

    def first_divergence(self, procedure: str) -> int | None:
        return next((s.t for s in self.steps if not getattr(s, procedure).correct), None)


@dataclass(frozen=True)
class CheckReport:
    path: str
    prompt: int
    vocab: list[str]
    recurrent: bool
    calls: int  # calls generate made to the model (first sequence, plain run)
    sequences: list[SequenceCheck]
    verdict: Verdict
    torch_version: str
    seqdiag_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "check",
            "file": self.path,
            "prompt": self.prompt,
            "vocab": self.vocab,
            "recurrent": self.recurrent,
            "calls": self.calls,
            "versions": {"torch": self.torch_version, "seqdiag": self.seqdiag_version},
            "verdict": {"headline": self.verdict.headline, "fix": self.verdict.fix},
            "findings": [asdict(f) for f in self.verdict.findings],
            "sequences": [
                {
                    "index": s.index,
                    "prompt": s.prompt,
                    "targets": [step.target for step in s.steps],
                    "correct": {p: s.correct(p) for p in ("teacher", "free", "sampler")},
                    "first_divergence": {p: s.first_divergence(p) for p in ("teacher", "free", "sampler")},
                    "intervention": asdict(s.intervention) if s.intervention is not None else None,
                    "steps": [asdict(step) for step in s.steps],
                }
                for s in self.sequences
            ],
        }
