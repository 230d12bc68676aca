"""A table as plain data: what a measurement shows, without Rich.

Each measurement module describes its own table with these dataclasses (a title, columns, rows of cells, a
caption) next to its dataclass, its compute function and its JSON; `seqdiag.render.table.draw` turns any of them
into a Rich table. Cells carry style *names* (`Style`: what a piece of a cell means, such as good or bad), which
the renderer alone maps to colours, so the core never imports Rich and a new measurement needs no rendering code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["", "good", "bad", "muted", "strong", "alarm", "warn"]
"""What a piece of a cell means: good (right), bad (wrong), muted (secondary), strong (a total, the diagonal),
alarm (a marker that must stand out), warn. "" is no style."""
Justify = Literal["left", "right", "center"]
Overflow = Literal["fold", "crop", "ellipsis"]


@dataclass(frozen=True)
class Span:
    """A run of text in one style."""

    text: str
    style: Style = ""


@dataclass(frozen=True)
class Cell:
    """A cell made of spans: `style` is the whole cell's (the spans' styles add to it), `overlay` is laid over the
    whole cell after the spans (emphasis that must win, such as the diagonal's bold)."""

    spans: tuple[Span, ...]
    style: Style = ""
    overlay: Style = ""

    @property
    def plain(self) -> str:
        return "".join(s.text for s in self.spans)


CellValue = str | Cell
"""A plain string, or a styled cell."""


def styled(text: str, style: Style = "") -> Cell:
    """A cell of one span, the whole cell in `style`."""
    return Cell((Span(text),), style=style)


def assemble(*parts: str | Span | Cell, style: Style = "", overlay: Style = "") -> Cell:
    """A cell from pieces: strings (unstyled), spans, and cells (their spans, each in its cell's style where the
    span has none)."""
    spans: list[Span] = []
    for part in parts:
        if isinstance(part, str):
            spans.append(Span(part))
        elif isinstance(part, Span):
            spans.append(part)
        else:
            spans += [s if s.style or not part.style else Span(s.text, part.style) for s in part.spans]
    return Cell(tuple(spans), style=style, overlay=overlay)


def mark(ok: bool | None) -> Cell:
    """✓ (good), ✗ (bad) or — (muted: not reached)."""
    return {True: styled("✓", "good"), False: styled("✗", "bad"), None: styled("—", "muted")}[ok]


def steps_after(value: int | None) -> Cell:
    """ "after r" (good) or "never" (bad): how many steps something took to come back."""
    return styled("never", "bad") if value is None else styled(f"after {value}", "good")


def marked(output: str, targets: str, limit: int | None = None) -> Cell:
    """The output, each symbol good if right and alarm if wrong; longer than `limit`, cut to fit it with … (muted)."""
    cut = limit is not None and len(output) > limit
    pairs = list(zip(output, targets, strict=False))[: limit - 1 if cut and limit else None]
    spans = [Span(got, "good" if got == want else "alarm") for got, want in pairs]
    return Cell(tuple(spans + ([Span("…", "muted")] if cut else [])))


@dataclass(frozen=True)
class Column:
    header: str
    justify: Justify = "left"
    no_wrap: bool = False
    style: Style = ""
    min_width: int | None = None
    overflow: Overflow | None = None
    """What a cell too long for the column does (None: the renderer's default, which wraps at spaces)."""
    keep: bool | None = None
    """Never narrowed, wrapped nor cut, whatever the width: a row label or a number the reader needs whole. None:
    kept if right-justified (numbers are). Columns not kept hold free text: they wrap (or, with `no_wrap`, are cut
    with …) to make room for the kept ones."""
    drop: bool = False
    """Of low value (a picture of numbers another column shows): left out, the caption saying so, where the table
    cannot fit its width otherwise."""

    @property
    def kept(self) -> bool:
        return self.justify == "right" if self.keep is None else self.keep


@dataclass(frozen=True)
class Row:
    cells: tuple[CellValue, ...]
    style: Style = ""
    section: bool = False
    """A rule above this row: the rows below it are totals or a summary."""


@dataclass(frozen=True)
class TableSpec:
    """One measurement's table. Drawn with a simple head rule; at least as wide as its title, and wide enough that
    the caption folds into a few lines."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    caption: str | None = None
    max_width: int | None = None
    """The width the table must fit (the console's): a long caption then cannot push it wider."""
    padding: tuple[int, int, int, int] | None = None
    """Around each cell (top, right, bottom, left); None: one space either side."""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.cells) != len(self.columns):
                raise ValueError(f"{self.title}: a row has {len(row.cells)} cells for {len(self.columns)} columns")

    def plain(self) -> list[list[str]]:
        """Every row's cells as plain text (what a test reads)."""
        return [[c if isinstance(c, str) else c.plain for c in row.cells] for row in self.rows]
