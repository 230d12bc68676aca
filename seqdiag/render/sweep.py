"""`seqdiag sweep`: outcome rates over many seeds, per training policy, and grids of them."""

from __future__ import annotations

from rich.console import Console, Group
from rich.text import Text

from seqdiag.config import describe
from seqdiag.render.table import FittedTable, draw
from seqdiag.sweep import matrix_table, rates_table


def sweep_rates_table(policy_sweep, n_seeds: int, width: int = 120) -> FittedTable:
    """One training policy's rates (the sweep's own table)."""
    return draw(rates_table(policy_sweep, n_seeds, width))


def sweep_matrix_table(result) -> FittedTable:
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
    console.print(draw(result.table()))
