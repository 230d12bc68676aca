"""Did training work: converged, nearly, or not; fragile steps; the end symbol; a run that stopped early.

Convergence is judged on what training fed (`Evidence.as_trained`), on the whole sequence, end symbol
included, and never while the final loss is above half the first one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqdiag.findings.base import (
    FRAGILE_P,
    LOSS_CONVERGED_SHARE,
    NEARLY_CONVERGED,
    Evidence,
    Finding,
    fmt_steps,
    rule,
    untested,
    wrong,
)

if TYPE_CHECKING:
    from seqdiag.sampling import Trace

CONVERGED = """\
training-converged (note)

Run on what training fed (teacher-forced for train.policy=teacher), the model predicts every target, the end
symbol included, no right step has p(target) below 0.6, and the final loss is at most half the first one.
The history line says since when the output has not changed: a run that converged at its last checkpoint
may still flip with more training.
"""

NEARLY = """\
training-nearly-converged (warning)

Run on what training fed, the model is right at most steps (at least 80%) and its loss fell below half of
the first one, but some target is wrong (often the end symbol, which needs counting) or some right step is
a near coin flip (p(target) below 0.6, see fragile-steps). The help proposes more training; it says whether
`compare --test-fixes` measured that change.
"""

NOT_CONVERGED = """\
training-not-converged (error)

Run on what training fed, the model is wrong at more than 20% of the targets, or its final loss is above
half the first one. No sampling procedure can do better than the model, so this finding outranks every
other. The help proposes a learning rate (ten times larger, or a hundred for sgd; a hundred times smaller
when the loss rose) and says whether `compare --test-fixes` measured it.
"""

FRAGILE = """\
fragile-steps (warning)

A teacher-forced step whose argmax is the target, but whose p(target) is below 0.6: the step counts as right
(a ✓ in the tables) by a small margin. It fires exactly when such a step exists, and names each step and its
p(target). It keeps training-converged honest: a run with fragile steps is at most nearly converged.
"""

END_SYMBOL = """\
end-symbol-not-learned (warning)

Run on what training fed, the model does not predict the end symbol at its step. Where the input fed at that
step is also fed at earlier steps whose target is not the end symbol, the input alone cannot tell them
apart: the state has to keep count. The help proposes twice the steps and says whether it was measured;
on some seeds the end symbol is still not learned at 10000 steps.
"""

INCOMPLETE = """\
training-incomplete (error)

The run stopped before its planned steps: interrupted (Ctrl-C; `seqdiag train --resume DIR` finishes it) or
stopped by a numerical fault (the weights are the last good ones). Every report of such a run says so, since
its model is not the one the config describes.
"""


def fragile(trace: Trace) -> list[tuple[int, float]]:
    """(step, p(target)) of every step whose argmax is the target with p(target) below FRAGILE_P."""
    return [(s.t, s.p_target) for s in trace.steps if s.correct and s.p_target < FRAGILE_P]


def fmt_fragile(steps: list[tuple[int, float]]) -> str:
    return ", ".join(f"p = {p:.3f} at step {t}" for t, p in steps)


def loss_converged(ev: Evidence) -> bool:
    first, final = ev.first_loss, ev.final_loss
    if first is None or final is None:
        return False
    return final <= LOSS_CONVERGED_SHARE * first


def convergence_state(ev: Evidence) -> str:
    """converged | nearly | not: the one judgement the headline and the findings share."""
    t = ev.as_trained
    if not loss_converged(ev) or t.accuracy < NEARLY_CONVERGED:
        return "not"
    if t.correct_count == t.judged and not fragile(t):
        return "converged"
    return "nearly"


def _proposed_lr(ev: Evidence) -> float:
    first, final = ev.first_loss, ev.final_loss
    if first is not None and final is not None and not final <= first:  # rose (or NaN): smaller
        return ev.lr / 100
    return ev.lr * (100 if ev.optimizer == "sgd" else 10)


def _last_change(ev: Evidence, mode: str) -> int | None:
    last = None
    for prev, cur in zip(ev.history, ev.history[1:], strict=False):
        if cur.outputs.get(mode) != prev.outputs.get(mode):
            last = cur.step
    return last


@rule(
    {
        "training-converged": CONVERGED,
        "training-nearly-converged": NEARLY,
        "training-not-converged": NOT_CONVERGED,
    }
)
def convergence(ev: Evidence) -> Finding:
    t = ev.as_trained
    n = t.judged
    label = ev.fed_label
    first, final = ev.first_loss, ev.final_loss
    loss_line = (
        f"loss {first:.4g} at step 0, {final:.4g} after {ev.steps} steps ({final / first:.1%} of the first)"
        if first is not None and final is not None and first > 0
        else f"{ev.steps} steps"
    )
    wrong_steps = [s.t for s in t.steps if not s.correct]
    weak = fragile(t)
    evidence = [
        loss_line,
        f"{label}: {t.correct_count}/{n} targets right"
        + (f", wrong at step {fmt_steps(wrong_steps)}" if wrong_steps else ""),
    ]
    if weak:
        evidence.append(f"right by a small margin (p(target) < {FRAGILE_P:g}): {fmt_fragile(weak)}")
    if len(ev.history) > 1:
        last = _last_change(ev, "teacher")
        evidence.append(
            f"the teacher-forced output last changed at step {last} (checkpoints every "
            f"{ev.history[1].step - ev.history[0].step} steps)"
            if last is not None
            else "the teacher-forced output never changed between checkpoints"
        )
    data = {
        "final_loss": final,
        "first_loss": first,
        "correct": t.correct_count,
        "targets": n,
        "fed": ev.train_policy,
        "wrong_steps": wrong_steps,
        "fragile_steps": [s for s, _ in weak],
    }
    state = convergence_state(ev)
    if state == "converged":
        return Finding(
            id="training-converged",
            severity="note",
            title=f"training converged: {label} gets every target right ({n}/{n}), end symbol included",
            where=label,
            evidence=evidence,
            data=data,
        )
    if state == "nearly":
        what = []
        if wrong_steps:
            what.append(f"wrong at step {fmt_steps(wrong_steps)}")
        if weak:
            what.append(f"right by a small margin at step {fmt_steps([s for s, _ in weak])}")
        change = [f"train.steps={2 * ev.steps}"]
        return Finding(
            id="training-nearly-converged",
            severity="warning",
            title=f"training nearly converged: {label} gets {t.correct_count}/{n}, " + "; ".join(what),
            where=f"{label}, steps {fmt_steps(sorted(set(wrong_steps) | {s for s, _ in weak}))}",
            evidence=evidence,
            help=f"train twice as long ({' '.join(change)}) {untested(change)}",
            explains=sum(wrong(ev.traces[m]) for m in ("teacher", "free", "refeed") if m in ev.traces),
            data=data,
            proposes=change,
            aims=ev.trained_aim,
        )
    change = [f"train.lr={_proposed_lr(ev):g}"]
    return Finding(
        id="training-not-converged",
        severity="error",
        title=f"training did not converge: {label} gets {t.correct_count}/{n} targets"
        + ("" if loss_converged(ev) else "; the loss stayed above half its start"),
        where=f"{label}, steps {fmt_steps(wrong_steps)}" if wrong_steps else label,
        evidence=evidence,
        help=f"another learning rate ({' '.join(change)}) {untested(change)}",
        explains=sum(wrong(tr) for tr in ev.traces.values()),
        data=data,
        proposes=change,
        aims=ev.trained_aim,
    )


@rule({"fragile-steps": FRAGILE})
def fragile_steps(ev: Evidence) -> Finding | None:
    teacher = ev.traces["teacher"]
    weak = fragile(teacher)
    if not weak:
        return None
    return Finding(
        id="fragile-steps",
        severity="warning",
        title=f"{len(weak)} teacher-forced step{'s' if len(weak) > 1 else ''} right by a small margin: "
        + fmt_fragile(weak),
        where=f"teacher, step {fmt_steps([t for t, _ in weak])}",
        evidence=[
            f"the argmax is the target, but p(target) is below {FRAGILE_P:g}: "
            + ", ".join(f"step {t}: p({teacher.steps[t].target}) = {p:.3f}" for t, p in weak)
        ],
        data={"steps": [t for t, _ in weak], "p_target": [p for _, p in weak], "threshold": FRAGILE_P},
    )


@rule({"end-symbol-not-learned": END_SYMBOL})
def end_symbol(ev: Evidence) -> Finding | None:
    t = ev.as_trained
    if t.end_symbol is not False:
        return None
    last = t.steps[-1]
    fed = "a zero vector" if last.input is None else repr(last.input)
    same = [s.t for s in t.steps[:-1] if s.input == last.input and s.target != last.target]
    evidence = [f"p(end symbol {last.target!r}) = {last.p_target:.3f} at step {last.t}, fed {fed}"]
    if same:
        evidence.append(
            f"{fed} is also fed at {len(same)} earlier steps whose target is not the end symbol: the input alone "
            "cannot tell them apart, the state must keep count"
        )
    change = [f"train.steps={2 * ev.steps}"]
    return Finding(
        id="end-symbol-not-learned",
        severity="warning",
        title=f"the end symbol is not learned: {ev.fed_label} predicts {last.predicted!r} at step {last.t}",
        where=f"{ev.fed_label}, step {last.t}",
        evidence=evidence,
        help=f"train twice as long ({' '.join(change)}) {untested(change)}",
        explains=sum(1 for tr in ev.traces.values() if tr.end_symbol is False),
        data={"p_end_symbol": last.p_target, "fed": ev.train_policy},
        proposes=change,
        aims=ev.trained_aim,
    )


@rule({"training-incomplete": INCOMPLETE})
def incomplete(ev: Evidence) -> Finding | None:
    planned = ev.planned_steps
    if not ev.interrupted and ev.stopped is None and (planned is None or ev.steps >= planned):
        return None
    of = f" of {planned}" if planned is not None else ""
    if ev.stopped is not None:
        why, help_ = f"stopped by a numerical fault ({ev.stopped})", "lower train.lr before training again"
    elif ev.interrupted:
        why, help_ = "interrupted", "finish it: seqdiag train --resume DIR"
    else:
        why, help_ = "stopped early", None
    return Finding(
        id="training-incomplete",
        severity="error",
        title=f"training {why} after {ev.steps}{of} steps: this is not the model the config describes",
        where="training",
        evidence=[f"{ev.steps}{of} steps done"],
        help=help_,
        data={"steps_done": ev.steps, "planned_steps": planned, "interrupted": ev.interrupted, "stopped": ev.stopped},
    )


def headline_state(ev: Evidence) -> str:
    """The run's training in a few words, for the verdict's sentence."""
    t = ev.as_trained
    n = t.judged
    state = convergence_state(ev)
    label = ev.fed_label
    if state == "not":
        return f"Training has not converged ({label} {t.correct_count}/{n})"
    if state == "converged":
        return f"Training converged ({label} {n}/{n})"
    weak = fragile(t)
    if t.pattern_accuracy == 1.0 and t.end_symbol is False:
        core = "converged on the pattern, not on the end symbol"
    elif t.correct_count == n:
        core = "nearly converged: every target right, some by a small margin"
    else:
        core = "nearly converged"
    d = t.first_divergence
    parts = [f"{label} {t.correct_count}/{n}"]
    if d is not None:
        parts.append(f"first error at step {d}")
    if weak:
        parts.append(fmt_fragile(weak))
    return f"Training {core} ({', '.join(parts)})"
