"""`seqdiag plot`: the figures written, one line each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from seqdiag.render.common import (
    fitted_table,
)

if TYPE_CHECKING:
    from seqdiag.plot import PlotResult


def render_plot(console: Console, result: PlotResult) -> None:
    """The figures `seqdiag plot` wrote, one line each."""
    console.print(Text.assemble(("seqdiag plot", "bold"), f"  {result.kind} {result.source} → {result.out}"))
    table = fitted_table(box=None, pad_edge=False, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_column(no_wrap=True)
    for figure in result.figures:
        table.add_row(figure.name, figure.title, ", ".join(Path(p).name for p in figure.paths))
    console.print(table)
