"""The zeros sampler: inputs training never fed, an output that keeps changing, no position for the end symbol.

One cause, several symptoms: when the zeros procedure feeds inputs training never fed, `zeros-unseen-inputs`
is the error and the symptoms below (and `hidden-drift`) are shown as its evidence lines (`part_of`).
"""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, fmt_steps_compact, positions, rule, untested, wrong

ONE_HOT_DISTANCE = 2**0.5  # L2 distance between two different one-hot inputs (every input is one-hot or zero)

UNSEEN = """\
zeros-unseen-inputs (error, or warning when the zeros output happens to be right)

The zeros procedure (one `predict` call over the start symbol followed by zero vectors, the sampler of the
Keras report seqdiag reproduces) feeds inputs that training never fed: measured against the inputs of
training's own policy (train.policy), so it never fires on a model trained on zeros. The title counts the
positions whose input training never fed, out of all it fed.

The distance is the L2 distance from each fed input to the nearest input training fed, the largest over
the positions. Inputs are one-hot vectors, so two different symbols are √2 ≈ 1.41 apart and a zero vector
is 1.00 from every symbol; an input training fed is at 0.

What a model does on an input it was never trained on is whatever its weights happen to give; the zeros
output is then right only by chance (on the default, at the end of training on 4 of 32 seeds with
`seqdiag sweep --seeds 32`). The help names free-running, measured in the same run, and training on the
inputs you sample with (train.policy=zeros), measured only with --test-fixes.
"""

DRIFTS = """\
zeros-drifts (warning)

The zeros output still changes between checkpoints in the second half of training: how often, and the last
training step at which it changed. It does not fire when the output settled before the midpoint.

A change is any difference in the output, not only between right and wrong: the title says how many of the
late changes went from one wrong output to another. Those do not show in the "Training at a glance" strip,
which marks each checkpoint only right (the whole pattern) or wrong, so a flat strip and this finding agree.
"""

CANNOT_END = """\
zeros-cannot-end (warning)

The zeros procedure makes one output per pattern symbol (a fixed output length, the pattern's): it has no
position at which to emit the end symbol, so that target is always missed, whatever the model learned.
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
        title=f"the zeros procedure feeds inputs training never fed (at {novelty.unseen} of its {novelty.fed} "
        "positions)",
        where=f"zeros, {positions(novelty.unseen_steps)}",
        evidence=[
            f"{novelty.zero_vectors} of its {novelty.fed} inputs are zero vectors; training "
            f"(train.policy={ev.train_policy}) fed only {known}",
            f"up to L2 distance {novelty.nearest_distance:.2f} from the nearest input training fed (two different "
            f"one-hot symbols are {ONE_HOT_DISTANCE:.2f} apart)",
            f"it predicts {zeros.correct_count}/{n} targets"
            + (f", first wrong at position {zeros.first_divergence}" if zeros.first_divergence is not None else ""),
        ],
        help=f"sample free-running instead (measured here: {free.correct_count}/{n}); or train on what you sample "
        f"with ({' '.join(change)}) {untested(change)}",
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


def second_half_changes(ev: Evidence, mode: str) -> list[tuple[int, int]]:
    """(checkpoint before, checkpoint) training steps, after the midpoint of training, at which `mode`'s output
    differs from the checkpoint before."""
    half = ev.steps / 2
    return [
        (prev.step, cur.step)
        for prev, cur in zip(ev.history, ev.history[1:], strict=False)
        if cur.step > half and cur.outputs.get(mode) != prev.outputs.get(mode)
    ]


@rule({"zeros-drifts": DRIFTS})
def drifts(ev: Evidence) -> Finding | None:
    late = second_half_changes(ev, "zeros")
    if not late:
        return None
    z, t = ev.history_stats["zeros"], ev.history_stats["teacher"]
    right = set(z.right_steps)  # checkpoints at which the zeros pattern was right
    wrong_to_wrong = sum(1 for before, after in late if before not in right and after not in right)
    between = sum(1 for before, after in late if (before in right) != (after in right))
    teacher_late = second_half_changes(ev, "teacher")
    n = len(late)
    changes = (
        f"{n} change{'s' if n > 1 else ''} after training step {ev.steps // 2}, the last at training step {late[-1][1]}"
    )
    if wrong_to_wrong == n:
        title = (
            "the zeros output still changes late in training, staying wrong (so the right/wrong strip cannot show "
            f"it): {changes}"
        )
    else:
        title = f"the zeros output still changes late in training: {changes}; {between} between right and wrong" + (
            f", {wrong_to_wrong} from one wrong output to another" if wrong_to_wrong else ""
        )
    return Finding(
        id="zeros-drifts",
        severity="warning",
        title=title,
        where="history, zeros",
        evidence=[
            f"its output changed {z.changes}× over {z.checkpoints} checkpoints; the pattern was right at {z.right}"
            + (f" (training steps {fmt_steps_compact(z.right_steps)})" if z.right_steps else "")
            + (f", and went from right at one checkpoint to wrong at the next {z.reverts}×" if z.right else ""),
            f"the teacher-forced output changed {len(teacher_late)}× in the second half ({t.changes}× in all)",
        ],
        explains=min(sum(1 for s in ev.traces["zeros"].steps if not s.correct), 1),
        data={
            "changes": z.changes,
            "changes_second_half": n,
            "last_change": late[-1][1],
            "wrong_to_wrong_second_half": wrong_to_wrong,
            "right_wrong_second_half": between,
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
        title=f"the zeros procedure cannot emit the end symbol: it makes {len(zeros.steps)} outputs for "
        f"{len(zeros.targets)} targets",
        where=f"zeros, position {len(zeros.steps)}",
        evidence=[
            f"one pass over the start symbol and {len(zeros.steps) - 1} zero vectors yields {len(zeros.steps)} "
            f"outputs; the end symbol {zeros.targets[-1]!r} is the target at position {len(zeros.targets) - 1}"
        ],
        help="run one position per target, feeding predictions back, until the end symbol appears",
        explains=wrong(zeros) - sum(1 for s in zeros.steps if not s.correct),
        data={"steps": len(zeros.steps), "targets": len(zeros.targets)},
    )
