"""What every rendering shares: the consoles (results on stdout, messages on stderr), the fitted table, the
report header and the cells several tables draw."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from seqdiag.config import describe
from seqdiag.errors import OutputClosed

if TYPE_CHECKING:
    from seqdiag.config import Config
    from seqdiag.report import RunInfo
    from seqdiag.sampling import Trace


ZERO_INPUT = "∅"


def procedure_words(mode: str) -> str:
    """One line saying what a procedure feeds, in the user's terms (from the procedure registry)."""
    from seqdiag import procedures

    return procedures.REGISTRY[mode].description if mode in procedures.REGISTRY else mode


SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


MIN_FILE_WIDTH = 120  # when stdout is a file or a pipe and COLUMNS is not set: wide enough for the tables


class _Console(Console):
    """A Console that reports a reader closing stdout (`| head`) as OutputClosed instead of exiting with 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise OutputClosed


def stdout_console(record: bool = False) -> Console:
    """The console results are printed on; `record=True` keeps what it printed for `save_recording`.

    Its width is the terminal's, or COLUMNS where set (piped output honours it too); piped without COLUMNS,
    120 columns rather than Rich's 80.
    """
    console = _Console(highlight=False, record=record)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console = _Console(highlight=False, width=MIN_FILE_WIDTH, record=record)
    return console


def save_recording(console: Console, path: Path, title: str = "seqdiag") -> Path:
    """Write what a recording console printed to `path`, as SVG, HTML or plain text by its suffix, atomically.

    The export is the terminal output itself (same width, same colours), ready to paste into an issue.
    """
    from seqdiag.atomic import write_text_atomic

    suffix = path.suffix.lower()
    if suffix == ".svg":
        content = console.export_svg(title=title, clear=False)
    elif suffix == ".html":
        content = console.export_html(clear=False)
    elif suffix == ".txt":
        content = console.export_text(clear=False)
    else:
        raise ValueError(f"{path}: unknown export format {suffix!r}")
    return write_text_atomic(path, content)


def stderr_console() -> Console:
    """The console for progress, warnings and errors."""
    return _Console(stderr=True, highlight=False)


CAPTION_WIDTH = 100  # a caption wraps at no less than this, whatever the table's own width


def fitted_table(*, title: str | None = None, caption: str | None = None, **kwargs: Any) -> Table:
    """A Table at least as wide as its title, and wide enough that a long caption folds into a few lines
    rather than a narrow column of words."""
    widest = max(len(title or "") + 2, min(len(caption or ""), CAPTION_WIDTH))
    return Table(title=title, caption=caption, min_width=widest, **kwargs)


class Hanging:
    """A line of text whose continuation lines, where it wraps, start `indent` cells in (under its own text, not at
    column 1), as in a compiler diagnostic:

        = up to L2 distance 1.00 from the nearest input training fed (two
          different one-hot symbols are 1.41 apart)
    """

    def __init__(self, text: Text, indent: int) -> None:
        self.text = text
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if width - self.indent < 20 or "\n" in self.text.plain:  # too narrow to indent usefully: plain wrapping
            yield self.text
            return
        first = self.text.wrap(console, width)[0]  # the first line takes the whole width
        rest = self.text[len(first.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")) :]
        first.rstrip()
        yield first
        if rest.plain:
            for line in rest.wrap(console, width - self.indent):
                line.rstrip()
                yield Text.assemble(" " * self.indent, line)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.text)


def header(command: str, config: Config, run: RunInfo) -> Group:
    title = Text.assemble(
        (f"seqdiag {command}", "bold"),
        f"  seed {run.seed} · engine {run.engine} · torch {run.torch_version} · seqdiag {run.seqdiag_version} · ",
        f"{run.source}, {run.steps_done} steps",
        (" (interrupted)" if run.interrupted else "", "yellow"),
    )
    return Group(title, Text(describe(config), style="dim"))


def input_cell(symbol: str | None) -> str:
    return ZERO_INPUT if symbol is None else symbol


def prediction_cell(trace: Trace, t: int) -> Text:
    if t >= len(trace.steps):
        return Text("—", style="dim")
    step = trace.steps[t]
    if t < trace.prompt:  # given, as training fed it: not judged
        return Text(f"{step.predicted}·", style="dim")
    mark = "✓" if step.correct else "✗"
    text = Text(f"{step.predicted}{mark}", style="green" if step.correct else "red")
    if t == trace.first_divergence:
        text.stylize("reverse")
    return text


def marked_output(output: str, targets: str, limit: int | None = None) -> Text:
    """The output, each symbol green if right and red if wrong; longer than `limit`, cut to fit it with …"""
    from seqdiag.render.table import text_of
    from seqdiag.table import marked

    return text_of(marked(output, targets, limit))


def steps_after(value: int | None) -> Text:
    from seqdiag import table
    from seqdiag.render.table import text_of

    return text_of(table.steps_after(value))


def cell_mark(ok: bool | None) -> Text:
    from seqdiag import table
    from seqdiag.render.table import text_of

    return text_of(table.mark(ok))
