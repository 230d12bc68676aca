"""Free-running against teacher forcing: equal up to teacher forcing's first error, or not."""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, positions, rule, wrong

MATCHES = """\
free-matches-teacher (note)

Free-running (the start symbol, then each prediction fed back, state carried) predicts the same symbol as
teacher forcing at every position up to and including teacher forcing's first error (every position when it
has none). Up to that error the two procedures are fed the same inputs, so with argmax they must agree.
After it they are fed different symbols; the finding lists the later positions where they differ, if any.
"""

DIFFERS = """\
free-differs-from-teacher (warning)

Free-running predicts a different symbol from teacher forcing at a position before teacher forcing's first
error, where both were fed the same symbols. With temperature sampling a sampled symbol explains it; with
argmax it should not happen.
"""


@rule({"free-matches-teacher": MATCHES, "free-differs-from-teacher": DIFFERS})
def free_vs_teacher(ev: Evidence) -> Finding:
    teacher, free = ev.traces["teacher"], ev.traces["free"]
    d = teacher.first_divergence
    upto = min(len(teacher.steps), len(free.steps)) - 1 if d is None else d
    split = next((t for t in range(upto + 1) if free.steps[t].predicted != teacher.steps[t].predicted), None)
    later = [
        t
        for t in range(upto + 1, min(len(teacher.steps), len(free.steps)))
        if free.steps[t].predicted != teacher.steps[t].predicted
    ]
    n = free.judged
    evidence = [f"free-running predicts {free.correct_count}/{n} targets (teacher-forced {teacher.correct_count})"]
    if split is None:
        evidence.append(
            f"equal to teacher-forced at positions 0–{upto}"
            + (" (up to and including the first teacher-forced error)" if d is not None else " (every step)")
        )
        if later:
            evidence.append(f"after that error it differs from teacher-forced at {positions(later)}")
    else:
        evidence.append(f"differs from teacher-forced at position {split}, before any teacher-forced error")
    refeed = ev.traces.get("refeed")
    refeed_equal = None
    if refeed is not None:
        refeed_equal = refeed.output == free.output
        evidence.append(
            "refeed (no carried state, prefix re-run at each position) gives the same output position for position"
            if refeed_equal
            else f"refeed differs from free-running: {refeed.output} vs {free.output}"
        )
    data = {
        "free_correct": free.correct_count,
        "equal_to_teacher_through": upto if split is None else None,
        "differs_after": later,
        "refeed_equal": refeed_equal,
    }
    if split is None:
        title = (
            f"free-running reproduces teacher forcing ({free.correct_count}/{n})"
            if d is None and not later
            else f"free-running equals teacher forcing up to its first error (position {d}); "
            f"{free.correct_count}/{n} right" + (f", differing after it at {positions(later)}" if later else "")
        )
        return Finding(
            id="free-matches-teacher",
            severity="note",
            title=title,
            where=f"free, positions 0–{upto}",
            evidence=evidence,
            data=data,
        )
    return Finding(
        id="free-differs-from-teacher",
        severity="warning",
        title=f"free-running departs from teacher forcing at position {split}, before any teacher-forced error",
        where="free",
        evidence=evidence,
        help="with temperature sampling a sampled symbol explains it; with argmax (temperature 0) it should not happen",
        explains=wrong(free),
        data=data,
    )
