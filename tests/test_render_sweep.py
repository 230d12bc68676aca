"""Golden renders of the sweep tables (rates with intervals, the policy x procedure matrix, a grid)."""

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


SWEEP_GOLDEN = """\
                                Trained with teacher: 4 seeds, 300 steps each

                                                                                           first divergence
 procedure   right   share   95% interval   0 ─ 1                  stays right   changes   of the pattern
 ────────────────────────────────────────────────────────────────────────────────────────────────────────────
 teacher       3/4     75%        30%–95%   ······─────────●───·     after 200       1.0   never×3 @2×1
 free          3/4     75%        30%–95%   ······─────────●───·     after 200       1.0   never×3 @2×1
 zeros         3/4     75%        30%–95%   ······─────────●───·     after 200       1.0   never×3 @2×1
 refeed        3/4     75%        30%–95%   ······─────────●───·     after 200       1.0   never×3 @2×1
 fresh         3/4     75%        30%–95%   ······─────────●───·     after 200       1.0   never×3 @2×1

  right = pattern right at the last snapshot · interval = Wilson 95% · stays right = median first step from
               which it stays right · changes = mean output changes between snapshots, 2nd half
          Rates: rows = what training fed, columns = sampling procedure

 train             teacher              free             zeros             fresh
 ───────────────────────────────────────────────────────────────────────────────
 teacher   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]
 free       1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]

                cell = right/seeds share [Wilson 95% interval, %]
"""

GRID_GOLDEN = """\
seqdiag sweep --grid  grid.toml · 2 cells × 4 seeds · local executor · 3.0 s
                     Rates per cell: right/seeds share [Wilson 95% interval, %]

 model.hidden_size   train             teacher              free             zeros             fresh
 ───────────────────────────────────────────────────────────────────────────────────────────────────
                 5   teacher   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]
                 5   free       1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]
                10   teacher   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]   3/4 75% [30–95]
                10   free       1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]    1/4 25% [5–70]

                             right = pattern right at the last snapshot
"""


def test_sweep_tables_golden():
    """Regenerate (in tests/): python -c 'import test_render_sweep as t; print(t.render_sweep_golden(), end="")'"""
    assert render_sweep_golden() == SWEEP_GOLDEN


def test_grid_table_golden():
    """Regenerate (in tests/): python -c 'import test_render_sweep as t; print(t.render_grid_golden(), end="")'"""
    assert render_grid_golden() == GRID_GOLDEN
