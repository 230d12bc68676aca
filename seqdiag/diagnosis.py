"""The verdict: findings that explain why a procedure does or does not reproduce training, from measurements.

A finding reads like a compiler diagnostic: a stable id, a severity, a one-line title stating the fact,
where it shows, the evidence as numbers from this run, and a help line with the fix. Findings are
ranked by how many of the run's wrong steps they account for (`explains`), causes before symptoms.
Nothing here is claimed without a measurement behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seqdiag.history import HistoryStats, Snapshot, history_stats
from seqdiag.probes import InputNovelty, InputReliance, hidden_drift
from seqdiag.sampling import Trace
from seqdiag.stability import SPIKE_FACTOR, SPIKE_WINDOW

if TYPE_CHECKING:
    from seqdiag.drift import DriftReport
    from seqdiag.matrix import PolicyMatrix
    from seqdiag.recovery import Recovery
    from seqdiag.rollouts import RolloutStats
    from seqdiag.stability import Stability

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
    drift: DriftReport | None = None
    recovery: Recovery | None = None
    stability: Stability | None = None
    rollouts: RolloutStats | None = None
    matrix: PolicyMatrix | None = None


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
        else "differs from teacher-forced at step "
        + str(next(t for t in range(upto + 1) if free.steps[t].predicted != teacher.steps[t].predicted)),
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
        *depth_findings(ev),
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
        if teacher.accuracy == 1.0:
            state = "converged"
        elif teacher.pattern_accuracy == 1.0:
            state = "converged on the pattern, not yet on the end symbol"
        else:
            state = "nearly converged"
        first_error = "" if d is None else f", first error at step {d}"
        split = next((a.t for a, b in zip(free.steps, teacher.steps, strict=False) if a.predicted != b.predicted), None)
        if split is not None and (d is None or split < d):
            free_part = f"departs from it at step {split}"
        else:
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


# The findings below read the depth measurements (matrix, drift, recovery, counting, rollouts); each is
# absent when its measurement was not taken.


def _cell_text(cell) -> str:
    divergence = "" if cell.first_divergence is None else f", first off at {cell.first_divergence}"
    return f"{cell.correct}/{cell.targets}{divergence}"


def _matrix_finding(m: PolicyMatrix) -> Finding:
    diagonal = [c for c in m.cells if c.diagonal]
    off = [c for c in m.cells if not c.diagonal]
    diag_ok = [c for c in diagonal if c.pattern_right]
    off_ok = [c for c in off if c.pattern_right]
    off_bad = [c for c in off if not c.pattern_right]
    evidence = [
        "diagonal (sampled as trained): " + "; ".join(f"{c.train}→{c.sample} {_cell_text(c)}" for c in diagonal),
        "off the diagonal, wrong pattern: "
        + ("; ".join(f"{c.train}→{c.sample} {_cell_text(c)}" for c in off_bad) if off_bad else "none"),
        "off the diagonal, right anyway: "
        + ("; ".join(f"{c.train}→{c.sample} {c.correct}/{c.targets}" for c in off_ok) if off_ok else "none"),
    ]
    for row in m.rows:
        r = row.reliance
        evidence.append(
            f"trained {row.train}: another input symbol changes {r.other_symbol_share:.0%} of its teacher-forced "
            f"predictions, a zero input {r.zero_input_share:.0%}, a state reset {r.state_reset_share:.0%}"
        )
    # Per sampling column: the model trained as it samples against the models trained otherwise.
    columns = []
    for sample in m.samples:
        inside = [c for c in diagonal if c.sample == sample]
        outside = [c for c in off if c.sample == sample]
        if inside and outside:
            gain = min(c.correct for c in inside) - max(c.correct for c in outside)
            columns.append((gain, sample, inside, outside))
            evidence.insert(
                len(columns) - 1,
                f"the {sample} sampler: "
                + ", ".join(f"{c.correct}/{c.targets} trained {c.train}" for c in inside)
                + " vs "
                + ", ".join(f"{c.correct}/{c.targets} trained {c.train}" for c in outside),
            )
    works = len(diag_ok) == len(diagonal)
    summary = (
        f"diagonal pattern right in {len(diag_ok)}/{len(diagonal)} cells, off the diagonal {len(off_ok)}/{len(off)}"
    )
    if columns:
        gain, sample, inside, outside = max(columns, key=lambda c: (c[0], c[1] != "teacher"))  # generation first
        verb = "lifts" if gain > 0 else "does not lift" if gain == 0 else "lowers"
        title = (
            f"train as you sample: training on what the {sample} sampler feeds {verb} it to "
            + ", ".join(f"{c.correct}/{c.targets}" for c in inside)
            + " from "
            + ", ".join(f"{c.correct}/{c.targets} ({c.train})" for c in outside)
            + f"; {summary}"
        )
    else:
        title = f"train as you sample: {summary}"
    return Finding(
        "policy-matrix",
        "note" if works and not off_bad else "warning",
        title,
        f"policy matrix, {len(m.policies)} training policies × {len(m.samples)} sampling procedures",
        evidence,
        "sample with the procedure that feeds what training fed (the diagonal), or train on the inputs you will "
        "sample with (train.policy)",
        0,
        {
            "diagonal_right": len(diag_ok),
            "diagonal": len(diagonal),
            "off_diagonal_right": len(off_ok),
            "off_diagonal": len(off),
            "off_diagonal_wrong": [f"{c.train}→{c.sample}" for c in off_bad],
        },
    )


def _after(value: int | None) -> str:
    return "never" if value is None else f"after {value}"


def _recovery_finding(rec: Recovery, m: PolicyMatrix | None) -> Finding | None:
    if not rec.injections:
        return None
    n = len(rec.injections)
    evidence = [
        f"step {i.step}: fed {i.fed!r} for {i.replaced!r} → continues the pattern from it {_after(i.continues_after)}, "
        f"back on the targets {_after(i.resyncs_after)}; end symbol {'right' if i.end_symbol else 'wrong'}"
        for i in rec.injections
    ]
    if rec.baseline_first_divergence is not None:
        evidence.append(f"without injection free-running is already off at step {rec.baseline_first_divergence}")
    if m is not None:
        for row in m.rows:
            r = row.recovery
            evidence.append(
                f"trained {row.train}: continues {r.continued}/{len(r.injections)} "
                f"({', '.join(_after(i.continues_after) for i in r.injections)}), back on the targets "
                f"{r.resynced}/{len(r.injections)} ({', '.join(_after(i.resyncs_after) for i in r.injections)})"
            )
    return Finding(
        "error-recovery",
        "note",
        f"after a forced wrong symbol, free-running continues the pattern from it in {rec.continued}/{n} injections "
        f"and gets back on the targets in {rec.resynced}/{n}",
        f"free, injected at steps {', '.join(str(i.step) for i in rec.injections)}",
        evidence,
        "continuing from the error is what a lookup on the input does; getting back on the targets needs the state "
        "to keep time, which only training on inputs that do not carry the answer forces",
        0,
        {"continued": rec.continued, "resynced": rec.resynced, "injections": n},
    )


def _drift_finding(drift: DriftReport) -> Finding | None:
    if not drift.procedures:
        return None
    left = [p for p in drift.procedures if p.left_at is not None]
    evidence = [
        (
            f"{p.mode}: leaves the band at step {p.left_at}, up to {p.max_distance:.2f} at step {p.max_at}"
            if p.left_at is not None
            else f"{p.mode}: stays within {drift.tolerance:g} (max {p.max_distance:.2f})"
        )
        + f"; a linear probe tells its states from teacher-forced ones at {p.probe_accuracy:.0%} held out"
        for p in drift.procedures
    ]
    evidence.append(f"probe: {drift.probe}; 50% = indistinguishable")
    title = (
        "hidden states leave the teacher-forced trajectory in "
        + ", ".join(f"{p.mode} (step {p.left_at}, probe {p.probe_accuracy:.0%})" for p in left)
        if left
        else f"every procedure keeps its hidden states within {drift.tolerance:g} of the teacher-forced ones"
    )
    return Finding(
        "hidden-drift",
        "warning" if left else "note",
        title,
        f"hidden states vs teacher-forced, tolerance {drift.tolerance:g} (L2)",
        evidence,
        "a procedure whose states training never visited has outputs training never fixed; feed what training fed"
        if left
        else None,
        0,
        {p.mode: {"left_at": p.left_at, "probe_accuracy": p.probe_accuracy} for p in drift.procedures},
    )


def _never(step: int | None) -> str:
    return "never" if step is None else str(step)


def _counting_finding(st: Stability) -> Finding | None:
    teacher = next((c for c in st.curves if c.mode == "teacher"), None)
    if teacher is None:
        return None

    def at(mode: str) -> str:
        step = st.end_step.get(mode)
        return f"{mode} {'never' if step is None else f'step {step}'}"

    where = ", ".join(at(m) for m in st.end_step)
    evidence = [f"end symbol first predicted at: {where} (due at step {st.target_step})"]
    for c in st.curves:
        evidence.append(
            f"{c.mode}: pattern first right at step {_never(c.pattern_first_right)}, stable from "
            f"{_never(c.pattern_stable_from)}; end symbol first right at {_never(c.end_first_right)}, stable from "
            f"{_never(c.end_stable_from)} ({c.end_right}/{c.checkpoints} checkpoints)"
        )
    lag = (
        teacher.end_first_right - teacher.pattern_first_right
        if teacher.end_first_right is not None and teacher.pattern_first_right is not None
        else None
    )
    title = (
        f"the end symbol (counting) is learned {lag} steps after the pattern"
        if lag is not None
        else "the end symbol (counting) is never right at a checkpoint, the pattern is"
        if teacher.pattern_first_right is not None
        else "neither the pattern nor the end symbol is right at any checkpoint"
    )
    return Finding(
        "counting",
        "note",
        title,
        "history, teacher",
        evidence,
        None,
        0,
        {"end_step": st.end_step, "end_first_right": teacher.end_first_right, "lag": lag},
    )


def _instability_finding(st: Stability) -> Finding | None:
    if not st.spikes and not st.teacher_flips:
        return None
    biggest = st.largest_spikes(5)
    evidence = []
    if st.spikes:
        evidence.append(
            f"{len(st.spikes)} loss spikes (> {SPIKE_FACTOR:g}× the median of the previous {SPIKE_WINDOW} steps) after "
            "the loss fell below "
            f"a quarter of its start at step {st.near_converged_at}; largest: "
            + ", ".join(f"step {x.step} {x.loss:.3f} vs {x.baseline:.3f} ({x.ratio:.1f}×)" for x in biggest)
        )
    if st.teacher_flips:
        evidence.append(
            f"the teacher-forced output changed at {len(st.teacher_flips)} checkpoints after first being right: "
            f"steps {_fmt_steps_compact(st.teacher_flips)}"
        )
    adaptive = st.optimizer in ("rmsprop", "adam")
    if adaptive and st.denominator_median is not None and st.below_eps_share is not None:
        evidence.append(
            f"{st.optimizer} divides each gradient by sqrt(running mean of g²) + eps; at the end that root has "
            f"median {st.denominator_median:.1e}, below eps = {st.eps:g} for {st.below_eps_share:.0%} of the weights"
        )
        evidence.append(
            f"where the root is below eps the step is lr·g/eps: a gradient of 1e-4 moves a weight by "
            f"{st.lr * 1e-4 / st.eps:.2g} ({1e-4 / st.eps:.3g}× lr), so after a stretch of tiny gradients an ordinary "
            "one overshoots: the spikes come after convergence, not before"
        )
    title = (
        f"late-training instability: {len(st.spikes)} loss spikes after near-convergence"
        + (f" (largest at step {biggest[0].step}, {biggest[0].ratio:.1f}×)" if biggest else "")
        + (f" and {len(st.teacher_flips)} teacher-forced output flips" if st.teacher_flips else "")
    )
    return Finding(
        "late-instability",
        "warning",
        title,
        f"training, steps {_fmt_steps_compact([x.step for x in st.spikes])}" if st.spikes else "history, teacher",
        evidence,
        f"likely cause: {st.optimizer} steps when gradients are tiny (eps = {st.eps:g}); raise train.eps, lower "
        "train.lr, or stop once the pattern is stable"
        if adaptive
        else "lower train.lr, or stop once the pattern is stable",
        0,
        {
            "spikes": [x.step for x in st.spikes],
            "largest": [x.step for x in biggest],
            "teacher_flips": st.teacher_flips,
            "denominator_median": st.denominator_median,
            "below_eps_share": st.below_eps_share,
        },
    )


def _rollouts_finding(r: RolloutStats) -> Finding:
    diverged = r.rollouts - r.all_right
    quartiles = (
        "first divergence quartiles " + " / ".join(f"{q:g}" for q in r.divergence_quartiles)
        if r.divergence_quartiles
        else "no rollout diverged"
    )
    return Finding(
        "stochastic-rollouts",
        "warning" if diverged else "note",
        f"sampled at temperature {r.temperature:g}, {r.mode} gets every target right in {r.all_right}/{r.rollouts} "
        "rollouts",
        f"{r.mode}, {r.rollouts} rollouts (top-k {r.top_k or 'all'})",
        [
            f"{quartiles} over the {diverged} that diverged",
            f"accuracy mean {r.accuracy_mean:.2f}, min {r.accuracy_min:.2f}, quartiles "
            + " / ".join(f"{q:.2f}" for q in r.accuracy_quartiles),
            f"pattern right in {r.pattern_right}/{r.rollouts}, end symbol right in {r.end_symbol_right}/{r.rollouts}; "
            f"{r.distinct_outputs} distinct outputs",
        ],
        "sampling adds errors the model then feeds itself; use argmax (temperature 0) to reproduce training"
        if diverged
        else None,
        0,
        {"all_right": r.all_right, "rollouts": r.rollouts, "divergence_quartiles": r.divergence_quartiles},
    )


def depth_findings(ev: Evidence) -> list[Finding]:
    """The findings of the depth measurements present in `ev`, in the order they explain the failure."""
    found: list[Finding | None] = []
    if ev.matrix is not None:
        found.append(_matrix_finding(ev.matrix))
    if ev.drift is not None:
        found.append(_drift_finding(ev.drift))
    if ev.recovery is not None:
        found.append(_recovery_finding(ev.recovery, ev.matrix))
    if ev.stability is not None:
        found.append(_instability_finding(ev.stability))
        found.append(_counting_finding(ev.stability))
    if ev.rollouts is not None:
        found.append(_rollouts_finding(ev.rollouts))
    return [f for f in found if f is not None]
