"""Claim checks: for one compare report, every finding that fired says only what the run measured, and every
finding whose condition holds fired. Shared by the fast grid (test_finding_claims.py) and the slow one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from seqdiag.findings.base import FRAGILE_P, LOSS_CONVERGED_SHARE, NEARLY_CONVERGED
from seqdiag.findings.base import fmt_steps as _fmt
from seqdiag.history import is_right
from seqdiag.report import CompareReport


@dataclass
class Run:
    """One grid run: its label, its report, and how training ended."""

    label: str
    report: CompareReport
    policy: str = "teacher"
    interrupted: bool = False
    fired: dict[str, object] = field(default_factory=dict)


def _as_trained(report: CompareReport):
    return report.trained if report.trained is not None else report.traces["teacher"]


def _text(f) -> str:
    return " ".join([f.title, f.where, *f.evidence, f.help or ""])


def check(report: CompareReport) -> set[str]:
    """Assert every claim of `report`'s findings against its measurements; return the ids that fired."""
    found = {f.id: f for f in report.verdict.findings}
    assert len(found) == len(report.verdict.findings), "a finding id fired twice"
    teacher, free, zeros = report.traces["teacher"], report.traces["free"], report.traces["zeros"]
    trained = _as_trained(report)
    n = len(teacher.targets)
    policy = report.config.train.policy
    first, final = report.history[0].loss, report.history[-1].loss
    loss_ok = final <= LOSS_CONVERGED_SHARE * first
    everything = " ".join([report.verdict.headline, report.verdict.fix, *(_text(f) for f in found.values())])

    # No negative step counts or step numbers anywhere.
    assert not re.search(r"-\d+ steps|step -\d|steps? -\d|at -\d", everything), everything
    # A number is at a position in the sequence or at a training step, never at a bare "step".
    bare = [m.group(0) for m in re.finditer(r"(?<!training )\bsteps? \d+", everything)]
    assert not bare, bare

    # Convergence: exactly one of the three, by the definition (what training fed, whole sequence, loss).
    weak_trained = [(s.t, s.p_target) for s in trained.steps if s.correct and s.p_target < FRAGILE_P]
    if not loss_ok or trained.accuracy < NEARLY_CONVERGED:
        expected = "training-not-converged"
    elif trained.correct_count == n and not weak_trained:
        expected = "training-converged"
    else:
        expected = "training-nearly-converged"
    states = {"training-converged", "training-nearly-converged", "training-not-converged"} & set(found)
    assert states == {expected}, (states, expected)
    f = found[expected]
    assert f"{trained.correct_count}/{n}" in f.title
    if expected != "training-converged":
        assert "Training converged (" not in report.verdict.headline
    if not loss_ok:
        assert "converged (" not in report.verdict.headline.replace("not converged", "")
    wrong_steps = [s.t for s in trained.steps if not s.correct]
    if expected == "training-nearly-converged" and wrong_steps:
        assert f"wrong at position{'s' if len(wrong_steps) > 1 else ''} {_fmt(wrong_steps)}" in f.title
    if expected == "training-nearly-converged" and not wrong_steps:
        # Every target right, yet "nearly": the title says which positions hold it back and why.
        assert weak_trained and f"p ≥ {FRAGILE_P:g}" in f.title and "small margin" in f.title
    assert f"{final:.4g} after" in f.evidence[0]

    # fragile-steps: exactly when a teacher-forced step is right with p(target) < 0.6, naming steps and p.
    weak = [(s.t, s.p_target) for s in teacher.steps if s.correct and s.p_target < FRAGILE_P]
    assert ("fragile-steps" in found) == bool(weak)
    if weak:
        f = found["fragile-steps"]
        assert f.data["steps"] == [t for t, _ in weak]
        for t, p in weak:
            assert f"p = {p:.3f} at position {t}" in f.title

    # end-symbol-not-learned: on what training fed.
    assert ("end-symbol-not-learned" in found) == (trained.end_symbol is False)
    if "end-symbol-not-learned" in found:
        last = trained.steps[-1]
        f = found["end-symbol-not-learned"]
        assert f"predicts {last.predicted!r} at position {last.t}" in f.title
        assert f"= {last.p_target:.3f}" in f.evidence[0]
        assert "the pattern needs only the last input" not in _text(f)

    # free vs teacher.
    d = teacher.first_divergence
    upto = min(len(teacher.steps), len(free.steps)) - 1 if d is None else d
    split = next((t for t in range(upto + 1) if free.steps[t].predicted != teacher.steps[t].predicted), None)
    assert ("free-matches-teacher" in found) == (split is None)
    assert ("free-differs-from-teacher" in found) == (split is not None)
    if split is None:
        later = [
            t
            for t in range(upto + 1, min(len(teacher.steps), len(free.steps)))
            if free.steps[t].predicted != teacher.steps[t].predicted
        ]
        f = found["free-matches-teacher"]
        if later:
            assert _fmt(later) in f.title and "reproduces" not in f.title
        else:
            assert later == [] and "differing" not in f.title

    # zeros-unseen-inputs: never on a zeros-trained model; exactly when a zeros input was never fed in training.
    novelty = report.novelty["zeros"]
    assert ("zeros-unseen-inputs" in found) == (novelty.unseen > 0)
    if policy == "zeros":
        assert "zeros-unseen-inputs" not in found
        assert "never fed" not in report.verdict.headline and "never saw" not in everything
    if "zeros-unseen-inputs" in found:
        f = found["zeros-unseen-inputs"]
        assert f"(at {novelty.unseen} of its {novelty.fed} positions)" in f.title
        # The distance and its scale: the largest over fed inputs of the L2 distance to the nearest training
        # input, next to the distance between two different one-hot inputs, computed here from the vocabulary.
        eye = torch.eye(2)
        assert f"up to L2 distance {novelty.nearest_distance:.2f} " in f.evidence[1]
        assert f"one-hot symbols are {float(torch.dist(eye[0], eye[1])):.2f} apart" in f.evidence[1]
        assert f"{zeros.correct_count}/{n} targets" in " ".join(f.evidence)
        assert f"measured here: {free.correct_count}/{n}" in f.help
        assert f"train.policy={policy}" in f.evidence[0]
    else:
        assert "never fed" not in report.verdict.headline

    # zeros-drifts: only when the zeros output still changes in the second half of training.
    half = report.run.steps_done / 2
    late = [
        (p, c)
        for p, c in zip(report.history, report.history[1:], strict=False)
        if c.step > half and c.outputs["zeros"] != p.outputs["zeros"]
    ]
    assert ("zeros-drifts" in found) == bool(late)
    if late:
        f = found["zeros-drifts"]
        assert f.data["changes_second_half"] == len(late) and f"the last at training step {late[-1][1].step}" in f.title
        assert " 0 changes" not in _text(f)
        # "staying wrong" only when every late change went from one wrong pattern to another.
        both_wrong = all(
            not is_right(p.outputs["zeros"], zeros.targets) and not is_right(c.outputs["zeros"], zeros.targets)
            for p, c in late
        )
        assert ("staying wrong" in f.title) == both_wrong, f.title

    assert ("zeros-cannot-end" in found) == (zeros.end_symbol is None)

    # output-follows-input: only when replacing the input changes more than resetting the state.
    r = report.reliance
    assert ("output-follows-input" in found) == (r.other_symbol_share > r.state_reset_share)
    if "output-follows-input" in found:
        f = found["output-follows-input"]
        assert f"{r.changed_by_other_symbol} of {r.other_symbol_trials} " in f.title
        assert f"resetting the state {r.changed_by_state_reset} of {r.steps}" in f.title
        # What is counted out of what: every position re-run with each other symbol of the vocabulary.
        others = r.other_symbol_trials // r.steps
        assert others * r.steps == r.other_symbol_trials
        assert r.sequences > 1 or r.steps == len(teacher.steps) - 1
        assert f"({r.steps} positions × {others} other symbol" in f.title
        symbols = {s.input for s in teacher.steps} | set(teacher.targets)  # every symbol is one of the vocabulary
        assert others + 1 >= len(symbols)
        assert "as training did" not in _text(f)

    # hidden-drift: the distances are the drift report's; the prediction differences are counted here.
    if report.drift is not None and report.drift.procedures:
        f = found["hidden-drift"]
        for p in report.drift.procedures:
            trace = report.traces[p.mode]
            steps = min(len(trace.steps), len(teacher.steps))
            differ = sum(trace.steps[t].predicted != teacher.steps[t].predicted for t in range(steps))
            assert f"{p.mode} {p.max_distance:.2f} (position {p.max_at})" in f.title
            assert any(
                line.startswith(f"{p.mode}:") and f"at {differ}/{steps} positions" in line for line in f.evidence
            )
        assert "indistinguishable" not in _text(f) and "never fixed" not in _text(f)

    # late-instability: exactly when spikes or a lost right teacher-forced step; the steps are real losses.
    st = report.stability
    if st is not None:
        assert ("late-instability" in found) == bool(st.spikes or st.teacher_flips)
        targets = teacher.targets
        outputs = {s.step: s.outputs["teacher"] for s in report.history}
        steps = [s.step for s in report.history]
        for step in st.teacher_flips:
            before = outputs[steps[steps.index(step) - 1]]
            now = outputs[step]
            assert any(b == g and c != g for b, c, g in zip(before, now, targets, strict=False)), step
        if "late-instability" in found:
            f = found["late-instability"]
            assert f"{len(st.spikes)} loss spikes" in f.title
            if st.teacher_flips:
                # The lost-position count, split so that its part equal to the strip's "reverted" shows.
                n_flips = len(st.teacher_flips)
                lost = f"{n_flips} checkpoint{'s' if n_flips != 1 else ''} lost a right teacher-forced position"
                assert lost in f.title
                reverted = f.data["teacher_flips_reverting_pattern"]
                assert reverted == report.history_stats["teacher"].reverts
                assert (f"{reverted} pattern revert" in f.title) == (reverted > 0)
                assert reverted + f.data["teacher_flips_end_symbol_only"] + f.data[
                    "teacher_flips_pattern_already_wrong"
                ] == len(st.teacher_flips)
            assert "eps" not in re.findall(r"\w+", _text(f)) and "denominator" not in _text(f)
            assert f.proposes and (f.tested is not None or "untested" in f.help)

        # counting: settled = right at every checkpoint from that step to the end.
        curve = next(c for c in st.curves if c.mode == "teacher")
        ends = [
            (s.step, len(s.outputs["teacher"]) == n and s.outputs["teacher"][-1] == targets[-1]) for s in report.history
        ]
        pattern = [(s.step, is_right(s.outputs["teacher"], targets)) for s in report.history]

        def settled(flags):
            out = None
            for step, ok in reversed(flags):
                if not ok:
                    break
                out = step
            return out

        assert curve.end_stable_from == settled(ends) and curve.pattern_stable_from == settled(pattern)
        f = found["counting"]
        last = report.history[-1].step
        if settled(ends) is None:
            assert "has not settled" in f.title
        elif settled(ends) == last and len(report.history) > 1:
            # Right only at the last checkpoint: never called settled.
            assert "settled" not in f.title and "not yet shown to be stable" in f.title
            assert f"at the last checkpoint (training step {last})" in f.title
            first_time = sum(ok for _, ok in ends) == 1
            assert ("for the first time" in f.title) == first_time
        else:
            held = sum(1 for step, _ in ends if step >= settled(ends))
            assert f"settled at training step {settled(ends)} (right at the last {held} checkpoints)" in f.title

    # Any help proposing a config change is tested or says it is untested.
    for f in found.values():
        if f.proposes:
            assert f.tested is not None or "untested" in (f.help or ""), f.id

    # training-incomplete: in every report of a run that stopped early.
    incomplete = (
        report.run.interrupted
        or report.run.stopped is not None
        or report.run.steps_done < (report.run.planned_steps or 0)
    )
    assert ("training-incomplete" in found) == incomplete
    if incomplete:
        assert "interrupted" in report.verdict.headline or "stopped" in report.verdict.headline

    # Depth findings, when measured.
    if report.matrix is not None:
        f = found["policy-matrix"]
        diagonal = [c for c in report.matrix.cells if c.diagonal]
        right = sum(c.pattern_right for c in diagonal)
        assert f"diagonal pattern right in {right}/{len(diagonal)} cells" in f.title
    if report.recovery is not None and report.recovery.injections:
        f = found["error-recovery"]
        k = len(report.recovery.injections)
        assert f"in {report.recovery.continued}/{k} injections" in f.title
        assert f"targets in {report.recovery.resynced}/{k}" in f.title
        assert "only training" not in _text(f)
    if report.rollouts is not None:
        f = found["stochastic-rollouts"]
        assert f"{report.rollouts.all_right}/{report.rollouts.rollouts} rollouts" in f.title
    return set(found)
