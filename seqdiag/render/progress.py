"""The training progress bar on stderr, fed by the trainer's on_step callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    pass


@contextmanager
def training_progress(console: Console, total: int, enabled: bool = True) -> Iterator:
    """A progress bar fed by the trainer's on_step callback; yields that callback."""
    from seqdiag.train import TrainProgress

    progress = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("free [green]{task.fields[free]}[/]  zeros [yellow]{task.fields[zeros]}[/]"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled,
    )
    task = progress.add_task("train", total=total, loss="—", free="", zeros="")

    def on_step(p: TrainProgress) -> None:
        if p.step % 10 and p.step != p.total:
            return
        fields: dict[str, Any] = {"loss": f"{p.loss:.4f}"}
        if p.snapshot is not None:
            fields |= {"free": p.snapshot.outputs.get("free", ""), "zeros": p.snapshot.outputs.get("zeros", "")}
        progress.update(task, completed=p.step, **fields)

    with progress:
        yield on_step
