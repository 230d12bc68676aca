"""`compare --test-fixes`: retrain with each config change a finding proposes, and report what it measured.

A fix is measured exactly as a plain `seqdiag compare --json --set KEY=VALUE ...` would measure it: the same
config with the overrides applied, trained alone from its seed, and reported by `build_compare`; its `summary`
is the finding's `tested.after`, the run's own summary its `tested.before`. (The batched trainer stacks seeds
of one config; the fixes differ in their config, so each is a training of its own.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seqdiag.config import Config, with_overrides
from seqdiag.errors import RunFailure

if TYPE_CHECKING:
    from seqdiag.report import CompareReport

Summary = dict[str, Any]


def fixed_config(config: Config, changes: list[str]) -> Config:
    """`config` with the `key=value` changes applied, as `--set` applies them."""
    return with_overrides(config, changes)


def measure_fixes(report: CompareReport, measure: Callable[[Config, list[str]], Summary]) -> CompareReport:
    """`report` with every proposing finding's `tested` block filled in; `measure(config, changes)` trains the
    changed config and returns its summary.

    Each distinct change is trained once. A fix whose training fails (e.g. the loss became NaN) gets
    `after: null` and the failure in `failed`.
    """
    before = report.summary()
    measured: dict[tuple[str, ...], tuple[Summary | None, str | None]] = {}
    findings = []
    for f in report.verdict.findings:
        if not f.proposes:
            findings.append(f)
            continue
        key = tuple(f.proposes)
        if key not in measured:
            try:
                measured[key] = (measure(fixed_config(report.config, f.proposes), list(f.proposes)), None)
            except RunFailure as exc:
                measured[key] = (None, str(exc))
        after, failed = measured[key]
        tested: dict[str, Any] = {"set": list(f.proposes), "before": before, "after": after}
        if failed is not None:
            tested["failed"] = failed
        tested["outcome"] = outcome(before, after, f.aims)
        advice = (f.help or "").split(" (untested:")[0]
        if tested["outcome"] == "helped":
            help_ = advice + " (tested: it helped, see below)"
        else:  # never recommend what the measurement did not support
            help_ = advice + f" (tested: it {tested['outcome']}, see below; not advised)"
        findings.append(dataclasses.replace(f, tested=tested, help=help_))
    verdict = dataclasses.replace(report.verdict, findings=findings)
    return dataclasses.replace(report, verdict=verdict)


OUTCOMES = ("helped", "did not help", "made it worse", "mixed", "failed")


def changes(before: Summary, after: Summary) -> dict[str, int]:
    """Each measured count's change, by name, for the better (+1), none (0) or for the worse (-1): every
    procedure's right count "right.NAME" (more is better), "late_spikes" and "teacher_flips" (fewer is better)."""
    signs = {f"right.{m}": (after["right"][m] > before["right"][m]) - (after["right"][m] < before["right"][m])
             for m in after["right"] if m in before["right"]}  # fmt: skip
    for key in ("late_spikes", "teacher_flips"):
        signs[key] = (after[key] < before[key]) - (after[key] > before[key])
    return signs


def outcome(before: Summary, after: Summary | None, aims: tuple[str, ...] = ()) -> str:
    """What a tested change did, in words (one of OUTCOMES). `aims`: the counts the change is meant to improve
    (empty: any). helped: an aimed count better and none worse; mixed: an aimed count better and another worse;
    made it worse: no aimed count better and some count worse; did not help: nothing changed for the better."""
    if after is None:
        return "failed"
    signs = changes(before, after)
    aimed = [signs[a] for a in aims if a in signs] if aims else list(signs.values())
    better, worse = 1 in aimed, -1 in signs.values()
    if better:
        return "mixed" if worse else "helped"
    return "made it worse" if worse else "did not help"


def describe_tested(tested: dict[str, Any]) -> str:
    """A tested block in one line: what the change did, then each number before → after it."""
    change = " ".join(tested["set"])
    before, after = tested["before"], tested.get("after")
    if after is None:
        return f"with {change}: training failed ({tested.get('failed', 'no result')})"
    right = ", ".join(f"{m} {before['right'][m]}→{after['right'][m]}" for m in after["right"] if m in before["right"])
    what = tested.get("outcome") or outcome(before, after)
    return (
        f"with {change} ({what}): right (of {after['targets']}) {right}; late loss spikes {before['late_spikes']}→"
        f"{after['late_spikes']}; lost teacher-forced steps {before['teacher_flips']}→{after['teacher_flips']}"
    )
