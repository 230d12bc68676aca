"""Progress on stderr: the training bar, fed by the trainer's on_step callback, the kernels' step, and the
command line's observer of the core (`StderrObserver`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column

if TYPE_CHECKING:
    from seqdiag.train import TrainProgress


@contextmanager
def training_progress(console: Console, total: int, enabled: bool = True, label: str = "training") -> Iterator:
    """A progress bar fed by the trainer's on_step callback; yields that callback.

    The label, step/total, loss and elapsed time come first and never wrap; the current free and zeros outputs
    come last and are the part cut short on a narrow terminal.
    """
    progress = Progress(
        TextColumn(f"[bold]{escape(label)}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=20),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TextColumn("loss {task.fields[loss]}", table_column=Column(no_wrap=True)),
        TimeElapsedColumn(),
        TextColumn("{task.fields[outputs]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        console=console,
        transient=True,
        disable=not enabled or not console.is_terminal,  # in a file or a pipe a bar is noise (and a blank line)
    )
    task = progress.add_task("train", total=total, loss="—", outputs="")
    # What is left of the line after label, bar, step/total, loss and time, for the two outputs (none when narrow).
    room = (console.width - len(label) - 20 - 2 * len(str(total)) - 30) // 2 - len("zeros ")

    def outputs(free: str, zeros: str) -> str:
        if room < 8:
            return ""
        return f"free [green]{escape(free[:room])}[/]  zeros [yellow]{escape(zeros[:room])}[/]"

    shown = -10

    def on_step(p: TrainProgress) -> None:
        nonlocal shown
        # Every 10th step at most (the numba engine reports once per stretch between snapshots instead).
        if p.step - shown < 10 and p.step != p.total:
            return
        shown = p.step
        fields: dict[str, Any] = {"loss": f"{p.loss:.4f}"}
        if p.snapshot is not None:
            fields["outputs"] = outputs(p.snapshot.outputs.get("free", ""), p.snapshot.outputs.get("zeros", ""))
        progress.update(task, completed=p.step, **fields)

    with progress:
        yield on_step


@contextmanager
def kernel_progress(console: Console, compiling: bool, enabled: bool = True) -> Iterator[None]:
    """A labelled step on stderr while the numba kernels are made ready: the one-time compile, or a cache load."""
    if not enabled:
        yield
        return
    from seqdiag.engine import cache_root

    label = (
        f"compiling the numba kernels (a one-time step; cached in {cache_root()})"
        if compiling
        else "loading the numba kernels"
    )
    started = time.perf_counter()
    if compiling and not console.is_terminal:  # no spinner on a pipe or a file: say it at the start, as a line
        console.print(f"{label}...")
    with console.status(label):
        yield
    if compiling:
        console.print(f"compiled the numba kernels in {time.perf_counter() - started:.1f} s (cached for next time)")


class StderrObserver:
    """The command line's observer (`seqdiag.observer.Observer`): notes and warnings as lines on stderr, always;
    the training bar and the kernels' step only with `show_progress` (not under --json)."""

    def __init__(self, show_progress: bool) -> None:
        self.show_progress = show_progress

    def note(self, text: str) -> None:
        from seqdiag.render.messages import print_info

        print_info(text)

    def warn(self, text: str) -> None:
        from seqdiag.render.messages import print_warning

        print_warning(text)

    def training(self, steps: int, label: str) -> AbstractContextManager[Callable[[TrainProgress], None]]:
        from seqdiag.render.common import stderr_console

        return training_progress(stderr_console(), steps, enabled=self.show_progress, label=label)

    def kernels(self, compiling: bool) -> AbstractContextManager[None]:
        from seqdiag.render.common import stderr_console

        return kernel_progress(stderr_console(), compiling=compiling, enabled=self.show_progress)
