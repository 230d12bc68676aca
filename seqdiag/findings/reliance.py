"""What the teacher-forced predictions rest on: the input fed or the carried state (ablations)."""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, rule

FOLLOWS = """\
output-follows-input (note)

On the teacher-forced trajectory, each step is re-run with the input replaced (by each other symbol, and by
a zero vector, the state kept) and with the state reset (the true input kept). It fires when replacing the
input changes a larger share of the predictions than resetting the state: the prediction rests more on the
input fed than on the carried state. It says nothing about which input a sampler should feed.
"""


@rule({"output-follows-input": FOLLOWS})
def follows_input(ev: Evidence) -> Finding | None:
    r = ev.reliance
    if not r.other_symbol_share > r.state_reset_share:
        return None
    return Finding(
        id="output-follows-input",
        severity="note",
        title=f"the teacher-forced prediction rests more on the input than on the state: another symbol changes "
        f"{r.changed_by_other_symbol}/{r.other_symbol_trials}, a state reset {r.changed_by_state_reset}/{r.steps}",
        where=f"teacher-forced states, steps 1–{r.steps}"
        if r.sequences == 1
        else f"teacher-forced states of all {r.sequences} sequences, {r.steps} steps",
        evidence=[
            f"another symbol as input changes {r.changed_by_other_symbol}/{r.other_symbol_trials} "
            f"({r.other_symbol_share:.0%}) predictions",
            f"a zero vector as input changes {r.changed_by_zero_input}/{r.steps} ({r.zero_input_share:.0%})",
            f"resetting the state (true input kept) changes {r.changed_by_state_reset}/{r.steps} "
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
