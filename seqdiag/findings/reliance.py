"""What the teacher-forced predictions rest on: the input fed or the carried state (ablations)."""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, rule

FOLLOWS = """\
output-follows-input (note)

On the teacher-forced trajectory, each position after the first is re-run with the input replaced (by each
other symbol, and by a zero vector, the state kept) and with the state reset (the true input kept). The
counts are changed predictions out of re-runs: for another symbol, positions × the other symbols of the
vocabulary (30 × 2 = 60 on the default: '0', '1' and the marker 'S'); for a zero vector or a state reset,
one re-run per position; on a task of several sequences, summed over all of them. It fires when replacing
the input changes a larger share of the predictions than resetting the state: the prediction rests more on
the input fed than on the carried state. It says nothing about which input a sampler should feed.
"""


@rule({"output-follows-input": FOLLOWS})
def follows_input(ev: Evidence) -> Finding | None:
    r = ev.reliance
    if not r.other_symbol_share > r.state_reset_share:
        return None
    others = r.other_symbol_trials // r.steps if r.steps and r.other_symbol_trials % r.steps == 0 else None
    trials = f"{r.other_symbol_trials}" + (
        f" ({r.steps} positions × {others} other symbol{'s' if others != 1 else ''})" if others else ""
    )
    return Finding(
        id="output-follows-input",
        severity="note",
        title=f"the teacher-forced prediction rests more on the input than on the state: feeding another symbol "
        f"changed {r.changed_by_other_symbol} of {trials} predictions, resetting the state "
        f"{r.changed_by_state_reset} of {r.steps}",
        where=f"teacher-forced states, positions 1–{r.steps}"
        if r.sequences == 1
        else f"teacher-forced states of all {r.sequences} sequences, {r.steps} positions",
        evidence=[
            f"another symbol as input changes {r.changed_by_other_symbol} of {trials} predictions "
            f"({r.other_symbol_share:.0%})",
            f"a zero vector as input changes {r.changed_by_zero_input} of {r.steps} ({r.zero_input_share:.0%})",
            f"resetting the state (true input kept) changes {r.changed_by_state_reset} of {r.steps} "
            f"({r.state_reset_share:.0%})",
        ],
        data={
            "other_symbol_changed": r.changed_by_other_symbol,
            "other_symbol_trials": r.other_symbol_trials,
            "zero_input_changed": r.changed_by_zero_input,
            "state_reset_changed": r.changed_by_state_reset,
            "steps": r.steps,
        },
    )
