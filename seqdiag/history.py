"""The training history: snapshots of every procedure's output, and what they say about stability.

The 2015 symptom, "occasionally it alternates, then reverts", is a property of the history, not of
the final model: a procedure whose output keeps changing between checkpoints is not fixed by training.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqdiag import judgement


@dataclass(frozen=True)
class Snapshot:
    """Every procedure's output for one model at one training step (after `step` updates)."""

    step: int
    loss: float
    outputs: dict[str, str]
    accuracy: dict[str, float]


def is_right(output: str, targets: str, prompt: int = 0) -> bool:
    """Whether the pattern (every judged target but the end symbol) came out right, in every sequence.

    The end symbol is judged apart (`seqdiag.judgement`): it needs counting, which is learned much later, and
    the zeros procedure never reaches it; mixing it in would hide the pattern's own stability.
    """
    return judgement.all_patterns_right(output, targets, prompt)


@dataclass(frozen=True)
class HistoryStats:
    """How one procedure's output behaved across the checkpoints of one model."""

    mode: str
    checkpoints: int
    right: int  # checkpoints at which the pattern was right
    changes: int  # times the output differed from the previous checkpoint
    reverts: int  # times a right output was followed by a wrong one
    right_steps: list[int]  # the steps of the right checkpoints
    stable_from: int | None  # first step from which it stays right to the end; None if never
    changes_second_half: int


def history_stats(history: list[Snapshot], mode: str, targets: str, prompt: int = 0) -> HistoryStats:
    outputs = [s.outputs[mode] for s in history]
    right = [is_right(o, targets, prompt) for o in outputs]
    changed = [a != b for a, b in zip(outputs, outputs[1:], strict=False)]
    half = len(history) // 2
    stable_from = None
    for i in range(len(right) - 1, -1, -1):
        if not right[i]:
            break
        stable_from = history[i].step
    return HistoryStats(
        mode=mode,
        checkpoints=len(history),
        right=sum(right),
        changes=sum(changed),
        reverts=sum(a and not b for a, b in zip(right, right[1:], strict=False)),
        right_steps=[s.step for s, r in zip(history, right, strict=True) if r],
        stable_from=stable_from,
        changes_second_half=sum(changed[max(0, half - 1) :]),
    )
