"""Any measurement's table (`seqdiag.table.TableSpec`, plain data) drawn as a Rich table: one function for all.

The one place where a table meets the width it is drawn at. Rich, left alone, shrinks every column of a table too
wide for the terminal and cuts whatever no longer fits, row labels and numbers included. Here the columns are laid
out first, at the width the table is actually drawn at:

- a *kept* column (`Column.kept`: the row label, the numbers) is as wide as its widest cell and header, and never
  wraps nor is cut;
- a column of free text that wraps (`no_wrap=False`) narrows down to its longest word: it wraps between words,
  never inside one;
- a column of free text that is cut (`no_wrap=True`) narrows down to `CUT_FLOOR` cells and is cut with `…`;
- the widest of those narrow first; only when even that does not fit are the columns marked `drop` left out, the
  caption saying which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from seqdiag.render.common import fitted_table
from seqdiag.table import Cell, CellValue, Column, Style, TableSpec

STYLES: dict[Style, str] = {
    "": "",
    "good": "green",
    "bad": "red",
    "muted": "dim",
    "strong": "bold",
    "alarm": "bold red",
    "warn": "yellow",
}
"""What each style name looks like in a terminal."""

CUT_FLOOR = 10
"""The fewest cells a column of free text that is cut with … narrows to (less where its text is shorter, more
where a word of its header is longer)."""


def text_of(cell: Cell) -> Text:
    text = Text(style=STYLES[cell.style])
    for span in cell.spans:
        text.append(span.text, style=STYLES[span.style] or None)
    if cell.overlay:
        text.stylize(STYLES[cell.overlay])
    return text


def _renderable(value: CellValue | Text) -> Text:
    """A cell as Text: a plain string is text, never Rich markup (`[0–49]` is an interval, not a tag)."""
    if isinstance(value, Text):
        return value
    return Text(value) if isinstance(value, str) else text_of(value)


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


@dataclass
class FittedTable:
    """A table laid out, when drawn, at the width it is drawn at (the rules in this module's docstring).

    `columns` are the specs' columns, `rows` the cells as Text with each row's style and whether a rule goes above
    it. Drawn by Rich like any renderable; `table(width)` is the Rich table at one width.
    """

    columns: Sequence[Column]
    rows: Sequence[tuple[Sequence[Text], str, bool]]
    title: str | None = None
    caption: str | None = None
    padding: tuple[int, int, int, int] = (0, 1, 0, 1)
    max_width: int | None = None
    title_justify: str = "center"
    extra: dict[str, Any] = field(default_factory=dict)

    def _pad(self, padding: tuple[int, int, int, int], index: int, count: int) -> int:
        """The padding Rich puts beside column `index` (no padding on the outer edges: pad_edge=False)."""
        _, right, _, left = padding
        return (0 if index == 0 else left) + (0 if index == count - 1 else right)

    def _header(self, index: int, folded: bool) -> str:
        """Column `index`'s header; `folded`, a line per word, and a dotted key (`model.hidden_size`) a line per
        part."""
        header = self.columns[index].header
        return header.replace(" ", "\n").replace(".", ".\n") if folded else header

    def _natural(self, index: int, folded: bool = False) -> int:
        column = self.columns[index]
        header = self._header(index, folded)
        widths = [_widest_line(header), *(_widest_line(row[0][index].plain) for row in self.rows)]
        return max(max(widths), column.min_width or 0)

    def _floor(self, index: int, folded: bool) -> int:
        """The narrowest column `index` may get: its natural width if kept, else its longest word (wrapped) or
        CUT_FLOOR (cut), and never less than the longest word of its header."""
        column = self.columns[index]
        natural = self._natural(index, folded)
        if column.kept:
            return natural
        header = _longest_word(self._header(index, folded))
        if not column.no_wrap:
            return max(header, *(_longest_word(row[0][index].plain) for row in self.rows), 1)
        return min(natural, max(CUT_FLOOR, header))

    def layout(self, width: int | None) -> tuple[list[int], list[int | None], tuple[int, int, int, int], bool]:
        """The indices of the columns shown, for each its width (None: as wide as its text; Rich decides), the
        padding and whether the headers fold: where the table does not fit, first the headers take a line per word,
        then one space between columns instead of two, then the `drop` columns are left out, last first."""
        shown = list(range(len(self.columns)))
        padding = self.padding
        folded = False
        if width is None:
            return shown, [None] * len(shown), padding, folded

        def overhead() -> int:  # SIMPLE_HEAD: an edge either side and one between columns
            return 2 + len(shown) - 1 + sum(self._pad(padding, k, len(shown)) for k in range(len(shown)))

        while True:
            floors = [self._floor(i, folded) for i in shown]
            if sum(floors) + overhead() <= width:
                break
            top, right, bottom, left = padding
            droppable = [i for i in shown if self.columns[i].drop]
            if not folded:
                folded = True
            elif left and right:
                padding = (top, right, bottom, 0)
            elif droppable:
                shown.remove(droppable[-1])
            else:
                break
        natural = [self._natural(i, folded) for i in shown]
        assigned = list(natural)
        excess = sum(assigned) + overhead() - width
        while excess > 0:  # narrow the column of free text furthest above its floor, one cell at a time
            free = [k for k in range(len(shown)) if assigned[k] > floors[k]]
            if not free:
                break  # cannot fit: Rich cuts what it must (no table of seqdiag's gets here at 80 columns)
            k = max(free, key=lambda k: assigned[k] - floors[k])
            assigned[k] -= 1
            excess -= 1
        return shown, [None if a == n else a for a, n in zip(assigned, natural, strict=True)], padding, folded

    def table(self, width: int | None = None) -> Table:
        """The Rich table at `width` (None: at its natural width, Rich fitting it where it is drawn)."""
        shown, widths, padding, folded = self.layout(width)
        left_out = [self.columns[i].header.replace("\n", " ") for i in range(len(self.columns)) if i not in shown]
        caption = self.caption
        if left_out:
            note = f"left out to fit {width} columns: {', '.join(left_out)}"
            caption = f"{caption} · {note}" if caption else note
        table = fitted_table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            title=self.title,
            caption=caption,
            padding=padding,
            title_justify=self.title_justify,
            **self.extra,
        )
        limit = min(x for x in (self.max_width, width) if x is not None) if (self.max_width or width) else None
        if limit is not None:
            table.min_width = min(table.min_width or 0, limit)
        for i, assigned in zip(shown, widths, strict=True):
            column = self.columns[i]
            kept = column.kept
            table.add_column(
                self._header(i, folded),
                justify=column.justify,
                no_wrap=column.no_wrap or kept,
                style=STYLES[column.style] or None,
                min_width=self._natural(i, folded) if kept else column.min_width,
                width=assigned,
                overflow=column.overflow or "ellipsis",  # Rich's default
            )
        for cells, style, section in self.rows:
            if section:
                table.add_section()
            table.add_row(*[cells[i] for i in shown], style=style or None)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table(options.max_width))


def draw(spec: TableSpec) -> FittedTable:
    """The spec as a table with a simple head rule and no edge padding, fitted to its title and caption, and laid
    out where it is drawn so that its kept columns (labels, numbers) are never cut."""
    rows = [(tuple(_renderable(c) for c in row.cells), STYLES[row.style], row.section) for row in spec.rows]
    return FittedTable(
        spec.columns,
        rows,
        title=spec.title,
        caption=spec.caption,
        padding=spec.padding or (0, 1, 0, 1),
        max_width=spec.max_width,
    )
