"""Judging what a procedure produced against the targets: right, the pattern vs the end symbol, first divergence.

Defined once here and used by sampling traces, training snapshots, the history, sweeps, rollouts, recovery and
the diagnosis.

- A sequence's targets are its symbols then the end symbol. The *pattern* is every target but the end symbol:
  it needs only the inputs, while the end symbol needs counting, which is learned much later, and a procedure
  that stops one step short (the 2015 zeros sampler) never reaches it. So the two are judged apart.
- With a prompt of K symbols, the first K targets are given, not predicted: steps 0 .. K-1 are fed the true
  symbols by every procedure and are not judged. Judging starts at step K.
- The *first divergence* is the first judged step whose prediction is wrong or missing (a procedure that stops
  early is missing the rest); None when every judged target is matched.
- An output of a task with several sequences is each sequence's output joined by a newline (no symbol is a
  newline), and so are its targets; each sequence is judged on its own and the counts add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import torch

SEPARATOR = "\n"


def judged_targets(targets: Sequence[object], prompt: int = 0) -> int:
    """How many targets are judged: all but the prompt's."""
    return max(0, len(targets) - prompt)


def first_divergence(
    output: Sequence[object], targets: Sequence[object], prompt: int = 0, *, pattern_only: bool = False
) -> int | None:
    """First judged step whose prediction is wrong or missing; None when all are right.

    With `pattern_only` the end symbol (the last target) is left out.
    """
    end = len(targets) - 1 if pattern_only else len(targets)
    for t in range(prompt, end):
        if t >= len(output) or output[t] != targets[t]:
            return t
    return None


def correct(output: Sequence[object], targets: Sequence[object], prompt: int = 0) -> int:
    """Judged steps predicted right."""
    return sum(1 for t in range(prompt, min(len(output), len(targets))) if output[t] == targets[t])


def pattern_right(output: Sequence[object], targets: Sequence[object], prompt: int = 0) -> bool:
    """Whether every judged target but the end symbol is right."""
    return first_divergence(output, targets, prompt, pattern_only=True) is None


def end_symbol(output: Sequence[object], targets: Sequence[object]) -> bool | None:
    """Whether the end symbol (the last target) is right; None when the output never reaches its step."""
    if len(output) < len(targets):
        return None
    return output[len(targets) - 1] == targets[-1]


# Joined outputs of several sequences (history snapshots store one string per procedure).


def split(text: str) -> list[str]:
    return text.split(SEPARATOR)


def join(texts: Iterable[str]) -> str:
    return SEPARATOR.join(texts)


# The judgements of joined outputs below are memoised: a sweep judges thousands of models' histories, whose
# outputs are mostly the same few strings.


@lru_cache(maxsize=8192)
def all_patterns_right(output: str, targets: str, prompt: int = 0) -> bool:
    """Every sequence's pattern right, for joined outputs and targets (one sequence: no separator)."""
    outs, tars = split(output), split(targets)
    return len(outs) == len(tars) and all(pattern_right(o, t, prompt) for o, t in zip(outs, tars, strict=True))


def all_ends_right(output: str, targets: str) -> bool:
    """Every sequence's end symbol right, for joined outputs and targets."""
    outs, tars = split(output), split(targets)
    return len(outs) == len(tars) and all(end_symbol(o, t) is True for o, t in zip(outs, tars, strict=True))


def share_right(output: str, targets: str, prompt: int = 0) -> float:
    """Judged targets right over all sequences, as a share (joined outputs and targets)."""
    outs, tars = split(output), split(targets)
    total = sum(judged_targets(t, prompt) for t in tars)
    hits = sum(correct(o, t, prompt) for o, t in zip(outs, tars, strict=False))
    return hits / total if total else 0.0


@lru_cache(maxsize=8192)
def first_divergence_pattern(output: str, targets: str, prompt: int = 0) -> int | None:
    """The earliest pattern divergence over every sequence (joined outputs and targets)."""
    found = [
        d
        for o, t in zip(split(output), split(targets), strict=False)
        if (d := first_divergence(o, t, prompt, pattern_only=True)) is not None
    ]
    return min(found) if found else None


# Batched, on index tensors: many rollouts (or models) at once.


def first_divergence_batch(predicted: torch.Tensor, targets: torch.Tensor, prompt: int = 0) -> torch.Tensor:
    """(B, T') predicted, (T,) targets -> (B,) long: first judged step wrong or missing, -1 when none.

    A row shorter than the targets (T' < T) is missing the steps from T' on.
    """
    b, steps = predicted.shape
    wrong = predicted != targets[:steps]  # (B, T')
    wrong[:, :prompt] = False
    missing = torch.full((b,), steps if steps < targets.numel() else -1, dtype=torch.long)
    first = wrong.float().argmax(1)
    return torch.where(wrong.any(1), first, missing)


def correct_batch(predicted: torch.Tensor, targets: torch.Tensor, prompt: int = 0) -> torch.Tensor:
    """(B, T') predicted, (T,) targets -> (B,) long: judged steps right."""
    hits = predicted == targets[: predicted.shape[1]]
    return hits[:, prompt:].sum(1)
