"""`seqdiag sweep`: outcome rates over many seeds, per training policy, and grids of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from seqdiag.config import describe
from seqdiag.render.common import (
    fitted_table,
    steps_after,
)

if TYPE_CHECKING:
    pass


def _interval_bar(share: float, lo: float, hi: float, width: int = 20) -> Text:
    """The 95% interval as a line on [0, 1] with the observed share as a dot: ··──●───·····."""
    cells = ["·"] * width
    for i in range(width):
        if lo <= (i + 0.5) / width <= hi:
            cells[i] = "─"
    cells[min(width - 1, int(share * width))] = "●"
    style = "green" if lo >= 0.5 else "red" if hi <= 0.5 else "yellow"
    return Text("".join(cells), style=style)


def _rate_cell(rate) -> Text:
    """right/seeds share [interval in percent], compact enough for four procedures side by side."""
    lo, hi = rate.ci95
    return Text(f"{rate.right_at_end}/{rate.seeds} {rate.share:.0%} [{lo * 100:.0f}–{hi * 100:.0f}]")


def _divergence_cell(distribution: dict, top: int = 4) -> str:
    ranked = sorted(distribution.items(), key=lambda kv: -kv[1])
    parts = [f"{'never' if step is None else f'@{step}'}×{count}" for step, count in ranked[:top]]
    return " ".join(parts) + (" …" if len(ranked) > top else "")


def _columns(rates: dict) -> list[str]:
    """The procedures that get a column: a consistency check (refeed, which must equal free) keeps its row in the
    per-policy table and its JSON, not a column of the matrices."""
    from seqdiag import procedures

    return [name for name in rates if name not in procedures.REGISTRY or procedures.REGISTRY[name].same_as is None]


def sweep_rates_table(policy_sweep, n_seeds: int) -> Table:
    """One training policy's rates: a row per sampling procedure."""
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Trained with {policy_sweep.policy}: {n_seeds} seeds, {policy_sweep.steps} steps each",
        caption="right = pattern right at the last snapshot · interval = Wilson 95% · stays right = median first "
        "step from which it stays right · changes = mean output changes between snapshots, 2nd half",
    )
    table.add_column("procedure", style="bold")
    table.add_column("right", justify="right")
    table.add_column("share", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("0 ─ 1", no_wrap=True)
    table.add_column("stays right", justify="right")
    table.add_column("changes", justify="right")
    table.add_column("first divergence of the pattern", overflow="fold")
    for name, rate in policy_sweep.rates.items():
        lo, hi = rate.ci95
        table.add_row(
            name,
            f"{rate.right_at_end}/{rate.seeds}",
            f"{rate.share:.0%}",
            f"{lo:.0%}–{hi:.0%}",
            _interval_bar(rate.share, lo, hi),
            steps_after(rate.stable_from_median),
            f"{rate.changes_second_half:.1f}",
            _divergence_cell(rate.first_divergence),
        )
    return table


def sweep_matrix_table(result) -> Table:
    """Training policy x sampling procedure: the share right at the end, with its interval."""
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Rates: rows = what training fed, columns = sampling procedure",
        caption="cell = right/seeds share [Wilson 95% interval, %]",
    )
    table.add_column("train", style="bold")
    procedures = _columns(result.headline.rates)
    for name in procedures:
        table.add_column(name, justify="right", overflow="fold")
    for policy, policy_sweep in result.policies.items():
        table.add_row(policy, *(_rate_cell(policy_sweep.rates[name]) for name in procedures))
    return table


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
        console.print(sweep_rates_table(policy_sweep, len(result.seeds)))
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
    procedures = _columns(first.rates)
    for name in procedures:
        table.add_column(name, justify="right", overflow="fold")
    for cell, sweep in result.cells:
        for policy, policy_sweep in sweep.policies.items():
            values = [str(cell.values.get(key, "")) for key in result.axes]
            table.add_row(*values, policy, *(_rate_cell(policy_sweep.rates[name]) for name in procedures))
    console.print(table)
