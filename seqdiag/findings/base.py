"""What every finding is built from and registered in: the `Finding`, the `Evidence` it reads, and the registry.

A finding reads like a compiler diagnostic: a stable id, a severity, a one-line title stating the fact, where
it shows, the evidence as numbers from this run, and a help line. A rule is a function from the evidence of
one run to the findings it supports; each rule lives in its own module with the long explanation of every id
it can emit (`seqdiag explain ID`). A rule states only what the evidence measured: what training fed is
`Evidence.train_policy`, and a claim about "the inputs training saw" is made from that, never assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only the rules' functions need them: `seqdiag explain` does not import torch
    from seqdiag.drift import DriftReport
    from seqdiag.history import HistoryStats, Snapshot
    from seqdiag.matrix import PolicyMatrix
    from seqdiag.probes import InputNovelty, InputReliance
    from seqdiag.recovery import Recovery
    from seqdiag.rollouts import RolloutStats
    from seqdiag.sampling import Trace
    from seqdiag.stability import Stability

SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}
FRAGILE_P = 0.6  # a right step whose p(target) is below this is a near coin flip: one update can turn it
LOSS_CONVERGED_SHARE = 0.5  # training is not called converged while the final loss is above this share of the first
NEARLY_CONVERGED = 0.8  # accuracy under what training fed from which a few wrong steps are "nearly converged"


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One measured claim about one run."""

    id: str
    severity: str  # error | warning | note
    title: str
    where: str
    evidence: list[str]
    help: str | None = None
    explains: int = 0  # wrong steps (over all procedures) this finding accounts for
    data: dict[str, Any] = field(default_factory=dict)
    # The config change the help proposes ("key=value", ...); empty when it proposes none. `compare --test-fixes`
    # retrains with it and fills `tested` with {"set": [...], "before": summary, "after": summary}.
    proposes: list[str] = field(default_factory=list)
    # What the proposed change is meant to improve: summary counts ("right.teacher", "late_spikes", ...), judged
    # by `seqdiag.fixes.outcome`; empty: any count.
    aims: tuple[str, ...] = ()
    tested: dict[str, Any] | None = None
    part_of: str | None = None  # the id of the finding whose cause this one restates, shown as its evidence


@dataclass(frozen=True)
class Verdict:
    headline: str
    fix: str
    findings: list[Finding]


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Everything the findings read: the final traces, the history and the probes of one model.

    `trained` is the model run on what training fed (its policy, every target): the teacher-forced trace for
    a teacher-trained model, the start symbol and zero vectors for a zeros-trained one, and so on.
    """

    traces: dict[str, Trace]
    history: list[Snapshot]
    history_stats: dict[str, HistoryStats]
    novelty: dict[str, InputNovelty]  # per procedure, vs what training fed
    reliance: InputReliance
    training_symbols: list[str | None]  # distinct inputs training fed (None = zero vector)
    train_policy: str
    steps: int  # steps done
    trained: Trace | None = None  # None: the teacher-forced trace stands for it (a teacher-trained model)
    planned_steps: int | None = None
    interrupted: bool = False
    stopped: str | None = None  # the numerical fault that stopped training early, if one did
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    drift: DriftReport | None = None
    recovery: Recovery | None = None
    stability: Stability | None = None
    rollouts: RolloutStats | None = None
    matrix: PolicyMatrix | None = None

    @property
    def as_trained(self) -> Trace:
        """The run on what training fed (see the class docstring)."""
        return self.trained if self.trained is not None else self.traces["teacher"]

    @property
    def fed_label(self) -> str:
        """What training fed, in words, for titles: 'teacher-forced' or 'fed as training fed (zeros)'."""
        return "teacher-forced" if self.train_policy == "teacher" else f"fed as training fed ({self.train_policy})"

    @property
    def trained_aim(self) -> tuple[str, ...]:
        """The summary count that measures what training fed (`Finding.aims` of a training fix)."""
        from seqdiag import procedures

        return (f"right.{self.train_policy}" if self.train_policy in procedures.REGISTRY else "right.teacher",)

    @property
    def first_loss(self) -> float | None:
        return self.history[0].loss if self.history else None

    @property
    def final_loss(self) -> float | None:
        return self.history[-1].loss if self.history else None


Rule = Callable[[Evidence], "Finding | Iterable[Finding] | None"]


@dataclass(frozen=True)
class RuleSpec:
    """A registered rule: the ids it can emit, the long explanation of each, and the function."""

    module: str
    explanations: dict[str, str]
    run: Rule


RULES: list[RuleSpec] = []


def rule(explanations: dict[str, str]) -> Callable[[Rule], Rule]:
    """Register `fn` as a finding rule emitting the ids in `explanations` (id -> long explanation)."""

    def register(fn: Rule) -> Rule:
        taken = {i for spec in RULES for i in spec.explanations}
        clash = taken & set(explanations)
        if clash:
            raise ValueError(f"finding id registered twice: {', '.join(sorted(clash))}")
        RULES.append(RuleSpec(fn.__module__, dict(explanations), fn))
        return fn

    return register


def explanation(finding_id: str) -> str | None:
    """The long explanation of a finding id, or None for an unknown id."""
    return next((spec.explanations[finding_id] for spec in RULES if finding_id in spec.explanations), None)


def finding_ids() -> list[str]:
    return sorted(i for spec in RULES for i in spec.explanations)


def fmt_steps(steps: list[int]) -> str:
    """1, 2, 3, 7 -> '1–3, 7'."""
    if not steps:
        return "none"
    runs: list[str] = []
    start = prev = steps[0]
    for t in [*steps[1:], None]:
        if t is not None and t == prev + 1:
            prev = t
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if t is not None:
            start = prev = t
    return ", ".join(runs)


def fmt_steps_compact(steps: list[int], limit: int = 6) -> str:
    shown = ", ".join(str(s) for s in steps[:limit])
    return shown + (f", … {len(steps) - limit} more" if len(steps) > limit else "")


def wrong(trace: Trace) -> int:
    return trace.judged - trace.correct_count


def untested(change: list[str]) -> str:
    return f"(untested: `seqdiag compare --test-fixes` retrains with {' '.join(change)} and measures it)"
