"""`seqdiag presets`: the shipped presets as one table (no torch needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.text import Text

from seqdiag.render.common import (
    fitted_table,
)

if TYPE_CHECKING:
    from seqdiag.config import PresetSummary


def render_presets(console: Console, presets: list[PresetSummary]) -> None:
    from seqdiag.task import task_from_config

    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title="Presets (seqdiag compare --config NAME)")
    for name in ("name", "task", "model", "training", "what it shows"):
        table.add_column(name, overflow="fold")
    for p in presets:
        c = p.config
        table.add_row(
            Text(p.name, style="bold"),
            task_from_config(c.sequence).source,
            f"{c.model.cell} ({c.model.gate})",
            f"{c.train.optimizer} lr {c.train.lr:g}, {c.train.steps} steps",
            p.description,
        )
    console.print(table)
