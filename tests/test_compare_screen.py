"""The default `seqdiag compare` fits a screen with a margin, and what it leaves out is still named.

Budgets: at most 70 lines at 120 columns and 90 at 80 (piped output honours COLUMNS). The slow test trains the
default, as a user running `seqdiag compare` does; the fast ones check on a tiny run that shortening the output
dropped nothing silently: every note is listed by id, a help repeated by a later finding is shown once.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from seqdiag.cli import app
from seqdiag.render.compare import render_compare
from seqdiag.report import build_compare

BUDGET = {120: 70, 80: 90}


def _render(report, width: int) -> str:
    console = Console(width=width, color_system=None, file=io.StringIO())
    render_compare(console, report)
    return console.file.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(BUDGET))
def test_default_compare_fits_its_line_budget(runner, width):
    result = runner.invoke(app, ["compare", "--threads", "1"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) <= BUDGET[width], f"{len(lines)} lines at {width} columns:\n{result.stdout}"
    out = result.stdout
    # Not at the price of the verdict, its evidence or the tested advice.
    assert "verdict:" in out and "error[zeros-unseen-inputs]" in out and "fix:" in out
    assert "measured here:" in re.sub(r"\s+", " ", out)


def test_notes_are_listed_by_id_and_every_note_is_there(trained_tiny):
    report = build_compare(trained_tiny, "test")
    text = _render(report, 120)
    notes = [f.id for f in report.verdict.findings if f.severity == "note" and f.part_of is None]
    assert notes, "the tiny run is expected to have notes"
    panel = " ".join(line.strip("│ ") for line in text.splitlines())  # the panel's lines, unwrapped
    listed = re.search(r"notes: (.*?) \(in --full; seqdiag explain ID\)", panel)
    assert listed is not None, panel
    assert [x.strip() for x in listed.group(1).split(",")] == notes
    for note in notes:
        assert f"note[{note}]" not in text  # by id only; their titles are in --full
    full = Console(width=120, color_system=None, file=io.StringIO())
    render_compare(full, report, full=True)
    assert all(f"note[{note}]" in full.file.getvalue() for note in notes)


def test_a_help_repeated_by_a_later_finding_is_shown_once(trained_tiny):
    from dataclasses import replace

    report = build_compare(trained_tiny, "test")
    findings = report.verdict.findings
    warning = replace(findings[0], id="first-one", severity="warning", help="do the thing (train.steps=2)", tested=None)
    again = replace(warning, id="second-one", title="another title")
    verdict = replace(report.verdict, findings=[warning, again])
    text = _render(replace(report, verdict=verdict), 120)
    assert text.count("do the thing (train.steps=2)") == 1
    assert "help: as for first-one" in text
