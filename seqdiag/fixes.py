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
        help_ = (f.help or "").split(" (untested:")[0] + " (tested: see below)"
        findings.append(dataclasses.replace(f, tested=tested, help=help_))
    verdict = dataclasses.replace(report.verdict, findings=findings)
    return dataclasses.replace(report, verdict=verdict)


def describe_tested(tested: dict[str, Any]) -> str:
    """A tested block in one line: each number before → after the change."""
    change = " ".join(tested["set"])
    before, after = tested["before"], tested.get("after")
    if after is None:
        return f"with {change}: training failed ({tested.get('failed', 'no result')})"
    right = ", ".join(f"{m} {before['right'][m]}→{after['right'][m]}" for m in after["right"] if m in before["right"])
    return (
        f"with {change}: right (of {after['targets']}) {right}; late loss spikes {before['late_spikes']}→"
        f"{after['late_spikes']}; lost teacher-forced steps {before['teacher_flips']}→{after['teacher_flips']}"
    )
