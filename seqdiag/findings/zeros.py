"""The 2015 sampler (`zeros`): inputs training never fed, an output that keeps changing, no step for the end symbol.

One cause, several symptoms: when the zeros procedure feeds inputs training never fed, `zeros-unseen-inputs`
is the error and the symptoms below (and `hidden-drift`) are shown as its evidence lines (`part_of`).
"""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, fmt_steps, fmt_steps_compact, rule, untested, wrong

UNSEEN = """\
zeros-unseen-inputs (error, or warning when the zeros output happens to be right)

The zeros procedure (the 2015 sampler: one pass over the start symbol followed by zero vectors) feeds inputs
that training never fed: measured against the inputs of training's own policy (train.policy), so it never
fires on a model trained on zeros. What a model does on an input it was never trained on is whatever its
weights happen to give; the zeros output is then right only by chance (on the default, at the end of
training on 4 of 32 seeds with `seqdiag sweep --seeds 32`). The help names free-running, measured in the same
run, and training on the inputs you sample with (train.policy=zeros), measured only with --test-fixes.
"""

DRIFTS = """\
zeros-drifts (warning)

The zeros output still changes between checkpoints in the second half of training: the history shows how
often, and the last step at which it changed. It does not fire when the output settled before the midpoint.
"""

CANNOT_END = """\
zeros-cannot-end (warning)

The zeros procedure makes one output per pattern symbol (the 2015 `maxlen`): it has no step at which to emit
the end symbol, so that target is always missed, whatever the model learned.
"""


@rule({"zeros-unseen-inputs": UNSEEN})
def unseen_inputs(ev: Evidence) -> Finding | None:
    zeros = ev.traces["zeros"]
    novelty = ev.novelty["zeros"]
    if not novelty.unseen:
        return None
    pattern_wrong = sum(1 for s in zeros.steps if not s.correct)
    known = ", ".join("zero vector" if s is None else repr(s) for s in ev.training_symbols)
    n = zeros.judged
    free = ev.traces["free"]
    change = ["train.policy=zeros"]
    return Finding(
        id="zeros-unseen-inputs",
        severity="error" if pattern_wrong else "warning",
        title=f"the zeros procedure feeds inputs training never fed ({novelty.unseen}/{novelty.fed})",
        where=f"zeros, steps {fmt_steps(novelty.unseen_steps)}",
        evidence=[
            f"{novelty.zero_vectors} of its {novelty.fed} inputs are zero vectors; training "
            f"(train.policy={ev.train_policy}) fed only {known}",
            f"nearest training input at distance {novelty.nearest_distance:.2f}",
            f"it predicts {zeros.correct_count}/{n} targets"
            + (f", first wrong at step {zeros.first_divergence}" if zeros.first_divergence is not None else ""),
        ],
        help=f"sample free-running instead: feed each prediction back and carry the state (measured here: "
        f"{free.correct_count}/{n}); or train on what you sample with ({' '.join(change)}) {untested(change)}",
        explains=pattern_wrong,
        data={
            "fed": novelty.fed,
            "unseen": novelty.unseen,
            "zero_vectors": novelty.zero_vectors,
            "nearest_distance": novelty.nearest_distance,
            "zeros_correct": zeros.correct_count,
            "free_correct": free.correct_count,
        },
        proposes=change,
        aims=("right.zeros",),
    )


def second_half_changes(ev: Evidence, mode: str) -> list[int]:
    """Checkpoint steps after the midpoint of training at which `mode`'s output differs from the checkpoint before."""
    half = ev.steps / 2
    return [
        cur.step
        for prev, cur in zip(ev.history, ev.history[1:], strict=False)
        if cur.step > half and cur.outputs.get(mode) != prev.outputs.get(mode)
    ]


@rule({"zeros-drifts": DRIFTS})
def drifts(ev: Evidence) -> Finding | None:
    late = second_half_changes(ev, "zeros")
    if not late:
        return None
    z, t = ev.history_stats["zeros"], ev.history_stats["teacher"]
    teacher_late = second_half_changes(ev, "teacher")
    return Finding(
        id="zeros-drifts",
        severity="warning",
        title=f"the zeros output still changes in the second half of training: {len(late)} change"
        f"{'s' if len(late) > 1 else ''} after step {ev.steps // 2}, the last at step {late[-1]}",
        where="history, zeros",
        evidence=[
            f"{z.changes} changes over {z.checkpoints} checkpoints; the pattern was right at {z.right}"
            + (f" (steps {fmt_steps_compact(z.right_steps)})" if z.right_steps else "")
            + (f", went from right back to wrong {z.reverts}×" if z.right else ""),
            f"the teacher-forced output changed {len(teacher_late)}× in the second half ({t.changes}× in all)",
        ],
        explains=min(sum(1 for s in ev.traces["zeros"].steps if not s.correct), 1),
        data={
            "changes": z.changes,
            "changes_second_half": len(late),
            "last_change": late[-1],
            "checkpoints": z.checkpoints,
            "right": z.right,
            "reverts": z.reverts,
            "teacher_changes_second_half": len(teacher_late),
        },
    )


@rule({"zeros-cannot-end": CANNOT_END})
def cannot_end(ev: Evidence) -> Finding | None:
    zeros = ev.traces["zeros"]
    if zeros.end_symbol is not None:
        return None
    return Finding(
        id="zeros-cannot-end",
        severity="warning",
        title=f"the zeros procedure cannot emit the end symbol: it runs {len(zeros.steps)} steps for "
        f"{len(zeros.targets)} targets",
        where=f"zeros, step {len(zeros.steps)}",
        evidence=[
            f"one pass over the start symbol and {len(zeros.steps) - 1} zero vectors yields {len(zeros.steps)} "
            f"outputs; the end symbol {zeros.targets[-1]!r} is target {len(zeros.targets) - 1}"
        ],
        help="run one step per target, feeding predictions back, until the end symbol appears",
        explains=wrong(zeros) - sum(1 for s in zeros.steps if not s.correct),
        data={"steps": len(zeros.steps), "targets": len(zeros.targets)},
    )
