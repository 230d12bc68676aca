"""Golden cases of the sweep tables drawn from a made-up result (rates with intervals, the policy x procedure
matrix, a grid): every table shape, whatever a short real sweep happens to give. Used by tests/golden/cases.py."""

from __future__ import annotations

import io

from rich.console import Console

from seqdiag.config import Config
from seqdiag.grid import GridCell, GridResult
from seqdiag.history import Snapshot
from seqdiag.procedures import NAMES as PROCEDURES
from seqdiag.sweep import PolicySweep, SweepResult, procedure_rates

TARGETS = "0101S"


def _histories(finals: list[str]) -> list[list[Snapshot]]:
    early = "1111S"
    return [
        [
            Snapshot(step, 0.0, {m: o for m in PROCEDURES}, {m: 0.0 for m in PROCEDURES})
            for step, o in ((0, early), (100, early), (200, final), (300, final))
        ]
        for final in finals
    ]


def _policy(name: str, finals: list[str]) -> PolicySweep:
    histories = _histories(finals)
    return PolicySweep(name, {m: procedure_rates(histories, m, TARGETS) for m in PROCEDURES}, 300, 1.0)


def _result() -> SweepResult:
    policies = {
        "teacher": _policy("teacher", ["0101S", "0101S", "0111S", "0101S"]),
        "free": _policy("free", ["0101S", "0001S", "0011S", "1111S"]),
    }
    return SweepResult(Config(), [0, 1, 2, 3], policies, "cpu", 2.0, TARGETS)


def _render(table) -> str:
    console = Console(width=110, color_system=None, file=io.StringIO())
    console.print(table)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def render_sweep_golden() -> str:
    from seqdiag.render import sweep_matrix_table, sweep_rates_table

    result = _result()
    return _render(sweep_rates_table(result.policies["teacher"], 4)) + _render(sweep_matrix_table(result))


def render_grid_golden() -> str:
    from seqdiag.render import render_grid

    cells = [(GridCell({"model.hidden_size": h}, Config()), _result()) for h in (5, 10)]
    grid = GridResult("grid.toml", {"model.hidden_size": [5, 10]}, cells, "local", 3.0)
    console = Console(width=110, color_system=None, file=io.StringIO())
    render_grid(console, grid)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"
