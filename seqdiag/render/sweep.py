"""`seqdiag sweep`: outcome rates over many seeds, per training policy, and grids of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from seqdiag.config import describe
from seqdiag.render.common import fitted_table
from seqdiag.render.table import draw, text_of
from seqdiag.sweep import matrix_table, rate_cell, rate_columns, rates_table

if TYPE_CHECKING:
    pass


def sweep_rates_table(policy_sweep, n_seeds: int, width: int = 120) -> Table:
    """One training policy's rates (the sweep's own table)."""
    return draw(rates_table(policy_sweep, n_seeds, width))


def sweep_matrix_table(result) -> Table:
    """Training policy x sampling procedure (the sweep's own table)."""
    return draw(matrix_table(result))


def _sweep_title(command: str, result) -> Group:
    import torch

    import seqdiag

    seeds = result.seeds
    title = Text.assemble(
        (f"seqdiag {command}", "bold"),
        f"  seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}) · engine {result.engine} · torch {torch.__version__}"
        f" · seqdiag {seqdiag.__version__}"
        f" · {result.device} · {result.seconds:.1f} s",
    )
    return Group(title, Text(describe(result.config), style="dim"))


def render_sweep(console: Console, result) -> None:
    """A sweep: the rates table of each training policy, then (with several) the policy x procedure matrix."""
    console.print(_sweep_title("sweep", result))
    console.print(Text(f"targets {result.targets}", style="dim"))
    for policy_sweep in result.policies.values():
        console.print(sweep_rates_table(policy_sweep, len(result.seeds), console.width))
    if len(result.policies) > 1:
        console.print(sweep_matrix_table(result))


def render_grid(console: Console, result) -> None:
    """A grid: one row per cell and training policy, the rate of every procedure with its interval."""
    first = result.cells[0][1]
    console.print(
        Text.assemble(
            ("seqdiag sweep --grid", "bold"),
            f"  {result.source} · {len(result.cells)} cells × {len(first.seeds)} seeds · {result.executor} executor"
            f" · {result.seconds:.1f} s",
        )
    )
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Rates per cell: right/seeds share [Wilson 95% interval, %]",
        caption="right = pattern right at the last snapshot",
    )
    for key in result.axes:
        table.add_column(key, style="bold", justify="right", min_width=len(key))
    table.add_column("train")
    procedures = rate_columns(first.rates)
    for name in procedures:
        table.add_column(name, justify="right", overflow="fold")
    for cell, sweep in result.cells:
        for policy, policy_sweep in sweep.policies.items():
            values = [str(cell.values.get(key, "")) for key in result.axes]
            table.add_row(*values, policy, *(text_of(rate_cell(policy_sweep.rates[name])) for name in procedures))
    console.print(table)
