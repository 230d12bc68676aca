"""`seqdiag train`: what the trained model outputs, and the loss as one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.text import Text

from seqdiag.render.common import (
    fitted_table,
    header,
)
from seqdiag.sparkline import groups, sparkline

if TYPE_CHECKING:
    from seqdiag.config import Config
    from seqdiag.report import RunInfo


def loss_line(losses: list[float], cells: int = 60) -> Text:
    """The training loss as one line: a log-scale sparkline of the mean loss per stretch of steps, first → last."""
    parts = groups(len(losses), cells)
    means = [sum(losses[i] for i in part) / len(part) for part in parts]
    return Text.assemble(
        ("loss ", "bold"),
        sparkline(means, log=True),
        (f"  per step {losses[0]:.4f} → {losses[-1]:.4f} (log scale)", "dim"),
    )


def render_trained(
    console: Console,
    config: Config,
    run: RunInfo,
    outputs: dict[str, str],
    loss: float,
    out: Path,
    seconds: float,
    losses: list[float] | None = None,
) -> None:
    console.print(header("train", config, run))
    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"After {run.steps_done} steps (loss {loss:.4f})")
    table.add_column("procedure")
    table.add_column("output", no_wrap=True)
    targets = None
    for mode, output in outputs.items():
        targets = targets or output
        table.add_row(mode, output)
    console.print(table)
    if losses:
        console.print(loss_line(losses))
    console.print(f"run saved to [bold]{out}[/] in {seconds:.1f} s · next: seqdiag compare --run {out}")
