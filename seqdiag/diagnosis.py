"""The verdict: findings that explain why a procedure does or does not reproduce training, from measurements.

A finding reads like a compiler diagnostic: a stable id, a severity, a one-line title stating the fact,
where it shows, the evidence as numbers from this run, and a help line with the fix. Findings are
ranked by how many of the run's wrong steps they account for (`explains`), causes before symptoms.
Nothing here is claimed without a measurement behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqdiag.history import HistoryStats, Snapshot, history_stats
from seqdiag.probes import InputNovelty, InputReliance, hidden_drift
from seqdiag.sampling import Trace

SEVERITY_ORDER = {"error": 0, "warning": 1, "note": 2}
NEARLY_CONVERGED = 0.8  # teacher-forced accuracy above which a few wrong steps are not "did not converge"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # error | warning | note
    title: str
    where: str
    evidence: list[str]
    help: str | None = None
    explains: int = 0  # wrong steps (over all procedures) this finding accounts for
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    headline: str
    fix: str
    findings: list[Finding]


@dataclass(frozen=True)
class Evidence:
    """Everything the diagnosis reads: the final traces, the history and the probes of one model."""

    traces: dict[str, Trace]
    history: list[Snapshot]
    novelty: dict[str, InputNovelty]  # per procedure, vs what training fed
    reliance: InputReliance
    training_symbols: list[str | None]  # distinct inputs training fed (None = zero vector)
    train_policy: str
    steps: int


def _fmt_steps(steps: list[int]) -> str:
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


def _wrong(trace: Trace) -> int:
    return len(trace.targets) - trace.correct_count


def _converged(ev: Evidence, stats: dict[str, HistoryStats]) -> Finding:
    teacher = ev.traces["teacher"]
    n = len(teacher.targets)
    pattern_ok = teacher.pattern_accuracy == 1.0
    final_loss = ev.history[-1].loss if ev.history else float("nan")
    pattern_since = stats["teacher"].stable_from
    evidence = [
        f"final loss {final_loss:.4f} after {ev.steps} steps",
        f"teacher-forced predicts {teacher.correct_count}/{n} targets"
        + (f", first wrong at step {teacher.first_divergence}" if teacher.first_divergence is not None else ""),
        f"pattern right at every checkpoint since step {pattern_since}"
        if pattern_since is not None
        else "the pattern is never right at every later checkpoint",
    ]
    data = {
        "final_loss": final_loss,
        "teacher_correct": teacher.correct_count,
        "targets": n,
        "pattern_right_since": pattern_since,
    }
    if pattern_ok:
        return Finding(
            "training-converged",
            "note",
            f"training converged: teacher-forced gets the pattern right ({teacher.correct_count}/{n})",
            "teacher",
            evidence,
            None,
            0,
            data,
        )
    wrong_steps = [s.t for s in teacher.steps if not s.correct]
    if teacher.accuracy >= NEARLY_CONVERGED:
        return Finding(
            "training-nearly-converged",
            "warning",
            f"training nearly converged: teacher-forced gets {teacher.correct_count}/{n}, wrong at step "
            f"{_fmt_steps(wrong_steps)}",
            f"teacher, steps {_fmt_steps(wrong_steps)}",
            evidence,
            "look at the history for late flips; train longer or lower the learning rate",
            sum(_wrong(ev.traces[m]) for m in ("teacher", "free", "refeed") if m in ev.traces),
            data,
        )
    return Finding(
        "training-not-converged",
        "error",
        f"training did not converge: teacher-forced gets {teacher.correct_count}/{n} targets",
        f"teacher, steps {_fmt_steps(wrong_steps)}",
        evidence,
        "train longer (--set train.steps=...) or with a larger learning rate (--set train.lr=...)",
        sum(_wrong(t) for t in ev.traces.values()),
        data,
    )


def _end_symbol(ev: Evidence) -> Finding | None:
    teacher = ev.traces["teacher"]
    if teacher.end_symbol is not False:
        return None
    last = teacher.steps[-1]
    return Finding(
        "end-symbol-not-learned",
        "warning",
        f"the end symbol is not learned: teacher-forced predicts {last.predicted!r} at step {last.t}",
        f"teacher, step {last.t}",
        [
            f"p(end symbol {last.target!r}) = {last.p_target:.3f} at step {last.t}",
            f"emitting it needs the model to count {len(teacher.targets) - 1} steps; "
            "the pattern needs only the last input",
        ],
        "train longer; counting is learned long after the pattern",
        sum(1 for t in ev.traces.values() if t.end_symbol is False),
        {"p_end_symbol": last.p_target},
    )


def _free_matches(ev: Evidence) -> Finding:
    teacher, free = ev.traces["teacher"], ev.traces["free"]
    d = teacher.first_divergence
    upto = len(teacher.steps) - 1 if d is None else d
    equal_prefix = all(free.steps[t].predicted == teacher.steps[t].predicted for t in range(upto + 1))
    evidence = [
        f"free-running predicts {free.correct_count}/{len(free.targets)} targets (teacher-forced "
        f"{teacher.correct_count})",
        f"equal to teacher-forced on steps 0–{upto}"
        + (" (up to and including the first teacher-forced error)" if d is not None else " (every step)")
        if equal_prefix
        else f"differs from teacher-forced before step {upto}",
    ]
    refeed = ev.traces.get("refeed")
    refeed_equal = None
    if refeed is not None:
        refeed_equal = refeed.output == free.output
        evidence.append(
            "refeed (no carried state, prefix re-run each step) gives the same output step for step"
            if refeed_equal
            else f"refeed differs from free-running: {refeed.output} vs {free.output}"
        )
    data = {
        "free_correct": free.correct_count,
        "equal_to_teacher_through": upto if equal_prefix else None,
        "refeed_equal": refeed_equal,
    }
    if equal_prefix:
        return Finding(
            "free-matches-teacher",
            "note",
            f"free-running reproduces teacher forcing ({free.correct_count}/{len(free.targets)})",
            f"free, steps 0–{upto}",
            evidence,
            None,
            0,
            data,
        )
    return Finding(
        "free-differs-from-teacher",
        "warning",
        "free-running departs from teacher forcing before any teacher-forced error",
        "free",
        evidence,
        "with temperature sampling this is expected; with argmax it is a bug",
        _wrong(free),
        data,
    )


def _zeros_findings(ev: Evidence, stats: dict[str, HistoryStats]) -> list[Finding]:
    zeros = ev.traces["zeros"]
    novelty = ev.novelty["zeros"]
    wrong = _wrong(zeros)
    pattern_wrong = sum(1 for s in zeros.steps if not s.correct)
    known = ", ".join("zero vector" if s is None else repr(s) for s in ev.training_symbols)
    findings = []
    drift = hidden_drift([s.hidden for s in ev.traces["teacher"].steps], [s.hidden for s in zeros.steps])
    drift_line = (
        f"its hidden state leaves the teacher-forced trajectory at step {drift.left_at} (distance > "
        f"{drift.tolerance:g}) and reaches {max(drift.distances):.2f}"
        if drift.left_at is not None
        else f"its hidden state stays within {drift.tolerance:g} of the teacher-forced trajectory"
    )
    if novelty.unseen:
        findings.append(
            Finding(
                "zeros-unseen-inputs",
                "error" if pattern_wrong else "warning",
                f"the zeros procedure feeds inputs the model never saw in training ({novelty.unseen}/{novelty.fed})",
                f"zeros, steps {_fmt_steps(novelty.unseen_steps)}",
                [
                    f"{novelty.zero_vectors} of its {novelty.fed} inputs are zero vectors; "
                    f"training ({ev.train_policy}) fed only {known}",
                    f"nearest training input at distance {novelty.nearest_distance:.2f}",
                    drift_line,
                    f"it predicts {zeros.correct_count}/{len(zeros.targets)} targets"
                    + (f", first wrong at step {zeros.first_divergence}" if zeros.first_divergence is not None else ""),
                ],
                "feed the model its own previous prediction and carry the state (seqdiag sample --mode free)",
                pattern_wrong,
                {
                    "fed": novelty.fed,
                    "unseen": novelty.unseen,
                    "zero_vectors": novelty.zero_vectors,
                    "nearest_distance": novelty.nearest_distance,
                    "zeros_correct": zeros.correct_count,
                    "hidden_left_at": drift.left_at,
                    "hidden_max_distance": max(drift.distances, default=0.0),
                },
            )
        )
    r = ev.reliance
    findings.append(
        Finding(
            "output-follows-input",
            "warning" if r.changed_by_other_symbol else "note",
            f"the prediction depends on the input fed: another symbol changes {r.changed_by_other_symbol}/"
            f"{r.other_symbol_trials} teacher-forced predictions, a zero vector {r.changed_by_zero_input}/{r.steps}",
            f"teacher-forced states, steps 1–{r.steps}",
            [
                f"another symbol as input changes {r.changed_by_other_symbol}/{r.other_symbol_trials} "
                f"({r.other_symbol_share:.0%}) predictions",
                f"a zero vector as input changes {r.changed_by_zero_input}/{r.steps} ({r.zero_input_share:.0%})",
                f"resetting the state (true input kept) changes {r.changed_by_state_reset}/{r.steps} "
                f"({r.state_reset_share:.0%})",
                "training fixed the response to the inputs it fed; the response to a zero vector, "
                "and to the states it leads to, was never trained",
            ],
            "feed the input that carries the information, the previous symbol, as training did",
            min(pattern_wrong, r.changed_by_zero_input),
            {
                "other_symbol_changed": r.changed_by_other_symbol,
                "other_symbol_trials": r.other_symbol_trials,
                "zero_input_changed": r.changed_by_zero_input,
                "state_reset_changed": r.changed_by_state_reset,
                "steps": r.steps,
            },
        )
    )
    z, t = stats["zeros"], stats["teacher"]
    if z.checkpoints > 1:
        findings.append(
            Finding(
                "zeros-drifts",
                "warning" if z.changes > t.changes else "note",
                f"the zeros output keeps changing through training ({z.changes} changes over {z.checkpoints} "
                f"checkpoints)",
                "history, zeros",
                [
                    f"the pattern was right at {z.right}/{z.checkpoints} checkpoints"
                    + (f" (steps {_fmt_steps_compact(z.right_steps)})" if z.right_steps else ""),
                    f"it went from right back to wrong {z.reverts}×" if z.right else "it was never right",
                    f"teacher-forced changed {t.changes}× and has been right since step {t.stable_from}"
                    if t.stable_from is not None
                    else f"teacher-forced changed {t.changes}×",
                ],
                "nothing in training pins the output at a zero input, so each update moves it",
                min(pattern_wrong, 1) if z.changes > t.changes else 0,
                {
                    "changes": z.changes,
                    "checkpoints": z.checkpoints,
                    "right": z.right,
                    "reverts": z.reverts,
                    "teacher_changes": t.changes,
                },
            )
        )
    if zeros.end_symbol is None:
        findings.append(
            Finding(
                "zeros-cannot-end",
                "warning",
                f"the zeros procedure cannot emit the end symbol: it runs {len(zeros.steps)} steps for "
                f"{len(zeros.targets)} targets",
                f"zeros, step {len(zeros.steps)}",
                [
                    f"one pass over the start symbol and {len(zeros.steps) - 1} zero vectors yields {len(zeros.steps)} "
                    f"outputs; the end symbol {zeros.targets[-1]!r} is target {len(zeros.targets) - 1}"
                ],
                "run one step per target, feeding predictions back, until the end symbol appears",
                wrong - pattern_wrong,
                {"steps": len(zeros.steps), "targets": len(zeros.targets)},
            )
        )
    return findings


def _fmt_steps_compact(steps: list[int], limit: int = 6) -> str:
    shown = ", ".join(str(s) for s in steps[:limit])
    return shown + (f", … {len(steps) - limit} more" if len(steps) > limit else "")


def diagnose(ev: Evidence) -> Verdict:
    """Rank the findings of one run and state the verdict in one sentence first."""
    targets = ev.traces["teacher"].targets
    stats = {m: history_stats(ev.history, m, targets) for m in ev.traces}
    candidates: list[Finding | None] = [
        _converged(ev, stats),
        _end_symbol(ev),
        _free_matches(ev),
        *_zeros_findings(ev, stats),
    ]
    findings = [f for f in candidates if f is not None]
    order = {f.id: i for i, f in enumerate(findings)}  # causes are listed before symptoms
    findings.sort(key=lambda f: (-f.explains, SEVERITY_ORDER[f.severity], order[f.id]))
    teacher, free, zeros = ev.traces["teacher"], ev.traces["free"], ev.traces["zeros"]
    n = len(teacher.targets)
    if teacher.accuracy < NEARLY_CONVERGED:
        headline = (
            f"Training has not converged (teacher-forced {teacher.correct_count}/{n}); "
            "no sampler can do better than the model."
        )
    else:
        d = teacher.first_divergence
        state = "converged" if teacher.pattern_accuracy == 1.0 else "nearly converged"
        first_error = "" if d is None else f", first error at step {d}"
        free_part = "matches it" if d is None else "matches it up to that error"
        zeros_part = (
            f"the zeros sampler does not ({zeros.correct_count}/{n}): it feeds inputs the model never saw"
            if zeros.pattern_accuracy < 1.0
            else f"the zeros sampler happens to match at the end ({zeros.correct_count}/{n}), though "
            "its inputs were never seen in training"
        )
        headline = (
            f"Training {state} (teacher-forced {teacher.correct_count}/{n}{first_error}); free-running "
            f"{free_part} ({free.correct_count}/{n}); {zeros_part}."
        )
    fix = (
        "Sample free-running: start from the start symbol, feed each prediction back as the next input and "
        f"carry the state (`seqdiag sample --mode free`: {free.correct_count}/{n} here) — or train on the "
        "inputs you will sample with (train.policy)."
    )
    return Verdict(headline, fix, findings)
