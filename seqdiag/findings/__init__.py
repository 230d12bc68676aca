"""The verdict: registered finding rules run over the evidence of one run, grouped by cause and ranked.

A new finding is one module holding its rule (`@rule({id: explanation})`) and its long explanation, imported
below, plus its test. Findings are ranked by how many of the run's wrong steps they account for (`explains`),
causes before symptoms; symptoms of a cause that fired are attached to it (`Finding.part_of`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from seqdiag.findings import depth, drift, free, reliance, stability, training, zeros  # noqa: F401  (registers)
from seqdiag.findings.base import (
    RULES,
    SEVERITY_ORDER,
    Evidence,
    Finding,
    Verdict,
    explanation,
    finding_ids,
)
from seqdiag.findings.training import headline_state

__all__ = ["Evidence", "Finding", "Verdict", "diagnose", "explanation", "finding_ids", "CAUSES"]

# Ties in `explains` are broken in this order: the training itself first, then causes before their symptoms.
ORDER = (
    "training-incomplete",
    "training-not-converged",
    "training-nearly-converged",
    "training-converged",
    "fragile-steps",
    "end-symbol-not-learned",
    "free-differs-from-teacher",
    "free-matches-teacher",
    "zeros-unseen-inputs",
    "zeros-drifts",
    "zeros-cannot-end",
    "hidden-drift",
    "output-follows-input",
    "policy-matrix",
    "late-instability",
    "counting",
    "error-recovery",
    "stochastic-rollouts",
)

# A cause and the findings that restate it: when the cause fires, they are shown as its evidence lines.
CAUSES = {"zeros-unseen-inputs": ("zeros-drifts", "zeros-cannot-end", "hidden-drift")}


def _run_rules(ev: Evidence) -> list[Finding]:
    found: list[Finding] = []
    for spec in RULES:
        out = spec.run(ev)
        if out is None:
            continue
        found.extend([out] if isinstance(out, Finding) else list(out if isinstance(out, Iterable) else []))
    return found


def _headline(ev: Evidence, ids: set[str]) -> str:
    teacher, free_, zeros_ = ev.traces["teacher"], ev.traces["free"], ev.traces["zeros"]
    n = teacher.judged
    prefix = ""
    if "training-incomplete" in ids:
        why = "stopped by a numerical fault" if ev.stopped else "interrupted" if ev.interrupted else "stopped early"
        of = f" of {ev.planned_steps}" if ev.planned_steps is not None else ""
        prefix = f"Training was {why} after {ev.steps}{of} steps. "
    state = headline_state(ev)
    if state.startswith("Training has not converged"):
        return f"{prefix}{state}; no sampler can do better than the model."
    d = teacher.first_divergence
    split = next((a.t for a, b in zip(free_.steps, teacher.steps, strict=False) if a.predicted != b.predicted), None)
    if split is not None and (d is None or split < d):
        free_part = f"departs from teacher-forced at position {split}"
    else:
        free_part = "matches teacher-forced" if d is None else "matches teacher-forced up to its first error"
    if "zeros-unseen-inputs" in ids:
        zeros_part = (
            f"the zeros sampler does not ({zeros_.correct_count}/{n}): it feeds inputs training never fed"
            if zeros_.pattern_accuracy < 1.0
            else f"the zeros sampler is right on the pattern by chance ({zeros_.correct_count}/{n}): its inputs "
            "were never fed in training"
        )
    else:
        zeros_part = f"the zeros sampler, fed what training fed, gets {zeros_.correct_count}/{n}"
    return f"{prefix}{state}; free-running {free_part} ({free_.correct_count}/{n}); {zeros_part}."


def diagnose(ev: Evidence) -> Verdict:
    """Run every registered rule on `ev`, group symptoms under their cause, rank, and state the verdict first."""
    findings = _run_rules(ev)
    ids = {f.id for f in findings}
    parents = {child: cause for cause, children in CAUSES.items() if cause in ids for child in children}
    findings = [dataclasses.replace(f, part_of=parents[f.id]) if f.id in parents else f for f in findings]
    rank = {i: k for k, i in enumerate(ORDER)}
    # A run that stopped early is said first: every other finding is about a model the config does not describe.
    findings.sort(
        key=lambda f: (
            f.id != "training-incomplete",
            -f.explains,
            SEVERITY_ORDER[f.severity],
            rank.get(f.id, len(rank)),
        )
    )
    n = len(ev.traces["teacher"].targets)
    free_ = ev.traces["free"]
    fix = (
        "Sample free-running: start from the start symbol, feed each prediction back as the next input and "
        f"carry the state (`seqdiag sample --mode free`: {free_.correct_count}/{n} here)"
        + (
            " — or train on the inputs you will sample with (train.policy; `compare --train teacher,zeros` measures "
            "it)."
            if "zeros-unseen-inputs" in ids
            else "."
        )
    )
    return Verdict(_headline(ev, ids), fix, findings)
