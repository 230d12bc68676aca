"""The golden cases: what `seqdiag compare`, `sample`, `sweep` and `check` print at 80 and 120 columns on small, fast
configs, and the sweep and grid tables of a made-up result.

Both the test (tests/test_golden.py) and the script that writes the files (tests/golden/regenerate.py) render through
`render_case`, so a golden file is always exactly what the command printed, normalised only where a run legitimately
varies: the torch and seqdiag version strings and wall-clock times. A version string that wraps across a line still
reads as one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HERE = Path(__file__).parent

# Small enough to train in a second or two each; long enough that the zeros sampler goes wrong and free-running
# does not, as in the default run.
# The torch engine is the reference: the numba engine's float32 tanh parts ways with it after some steps.
STEPS = ["--engine", "torch", "--set", "train.steps=300", "--set", "train.snapshot_every=50"]
COMMANDS = {
    "compare": ["compare", *STEPS],
    "sample": ["sample", "--mode", "zeros", *STEPS],
    "sweep": ["sweep", "--seeds", "4", "--train", "teacher,free", *STEPS],
    # the user's own model: its target column and counts whole, its findings wrapped under their own text
    "check": ["check", "examples/char_lstm_state_reset.py"],  # run from the repository's root
}
WIDTHS = (80, 120)
# Renders of made-up results (tests/golden/tables.py), at 110 columns: every table shape of a sweep and a grid.
TABLES = ("sweep-tables", "grid-table")
CASES = [f"{command}-{width}" for command in COMMANDS for width in WIDTHS] + list(TABLES)

_NORMALISE = [
    (re.compile(r"torch(\s+)\d[\w.+\-]*"), r"torch\1X"),
    (re.compile(r"seqdiag(\s+)\d[\w.+\-]*"), r"seqdiag\1X"),
    (re.compile(r"\d+\.\d+ s\b"), "N s"),
]


def normalise(text: str) -> str:
    """The output with what varies from machine to machine replaced, and trailing spaces dropped."""
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def golden_path(case: str) -> Path:
    return HERE / f"{case}.txt"


def render_case(case: str) -> str:
    """Run the case's command through the CLI, as piped output at the case's width, and normalise it (or render
    the made-up result of a table case)."""
    from typer.testing import CliRunner

    from seqdiag.cli import app

    if case in TABLES:
        import tables

        return tables.render_sweep_golden() if case == "sweep-tables" else tables.render_grid_golden()
    command, width = case.rsplit("-", 1)
    cwd = os.getcwd()
    os.chdir(HERE.parent.parent)  # the repository's root: check's example path, as the README shows it
    try:
        args = [*COMMANDS[command], "--threads", "1"]
        result = CliRunner().invoke(app, args, env={"COLUMNS": width, "NO_COLOR": "1"})
    finally:
        os.chdir(cwd)
    if result.exit_code != 0:
        raise RuntimeError(f"{case}: exit {result.exit_code}\n{result.output}")
    return normalise(result.stdout)
