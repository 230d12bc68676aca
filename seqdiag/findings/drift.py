"""How far each procedure's hidden states are from the teacher-forced ones, next to how its predictions differ."""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, rule

HIDDEN_DRIFT = """\
hidden-drift (note)

Per procedure, the L2 distance of its hidden state from the teacher-forced one at the same position: the
largest distance and its position, and the first position beyond the tolerance (0.25), next to the number of
positions at which its prediction differs from the teacher-forced one. Each hidden unit is in [-1, 1], so
with H units two states are at most 2·√H apart (6.32 for the default's 10). A distance alone does not say
the outputs differ: a model can leave the tolerance and still predict every position as teacher forcing
does, or stay within it and differ at half the positions. The drift table (and --json `drift`) also holds a
linear probe's held-out accuracy; the probe separates even small uniform shifts, so it is not used as a
measure of difference here.
"""


@rule({"hidden-drift": HIDDEN_DRIFT})
def hidden_drift(ev: Evidence) -> Finding | None:
    drift = ev.drift
    if drift is None or not drift.procedures:
        return None
    teacher = ev.traces["teacher"]
    parts, evidence, data = [], [], {}
    for p in drift.procedures:
        trace = ev.traces.get(p.mode)
        steps = min(len(trace.steps), len(teacher.steps)) if trace is not None else 0
        differ = sum(trace.steps[t].predicted != teacher.steps[t].predicted for t in range(steps)) if trace else 0
        parts.append(f"{p.mode} {p.max_distance:.2f} (position {p.max_at})")
        evidence.append(
            f"{p.mode}: "
            + (
                f"beyond {drift.tolerance:g} from position {p.left_at}, up to {p.max_distance:.2f} at position "
                f"{p.max_at}"
                if p.left_at is not None
                else f"within {drift.tolerance:g} at every step (max {p.max_distance:.2f})"
            )
            + f"; its prediction differs from teacher-forced at {differ}/{steps} positions"
        )
        data[p.mode] = {"left_at": p.left_at, "max_distance": p.max_distance, "predictions_differ": differ}
    return Finding(
        id="hidden-drift",
        severity="note",
        title="largest hidden-state distance from teacher-forced: " + ", ".join(parts),
        where=f"hidden states vs teacher-forced (L2, tolerance {drift.tolerance:g})",
        evidence=evidence,
        data=data,
    )
