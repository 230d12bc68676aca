"""Golden renders of `compare`, `sample`, `sweep` and `check` at 80 and 120 columns.

When a change is MEANT to change the output (a finding's text, a table, the numerics of an engine, a new config
key in the header), regenerate the files, never edit them by hand:

    python tests/golden/regenerate.py            # every case
    python tests/golden/regenerate.py compare-80 # one case

and read `git diff tests/golden` before committing. Only versions and timings are normalised (tests/golden/cases.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from cases import CASES, TABLES, WIDTHS, golden_path, normalise, render_case  # noqa: E402


@pytest.mark.parametrize("case", CASES)
def test_output_matches_its_golden_file(case):
    expected = golden_path(case).read_text(encoding="utf-8")
    got = render_case(case)
    assert got == expected, f"{case} changed; if meant, run: python tests/golden/regenerate.py {case}"


@pytest.mark.parametrize("case", [case for case in CASES if case not in TABLES])
def test_golden_output_fits_its_width(case):
    width = int(case.rsplit("-", 1)[1])
    assert width in WIDTHS
    lines = golden_path(case).read_text(encoding="utf-8").splitlines()
    assert max(len(line) for line in lines) <= width


def test_normalise_replaces_only_what_varies():
    text = "seqdiag compare  seed 0 · torch 2.13.0+cpu · seqdiag 0.1.0 · cpu · 12.3 s   \nloss 0.0643"
    assert normalise(text) == "seqdiag compare  seed 0 · torch X · seqdiag X · cpu · N s\nloss 0.0643\n"
