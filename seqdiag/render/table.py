"""Any measurement's table (`seqdiag.table.TableSpec`, plain data) drawn as a Rich table: one function for all."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from seqdiag.render.common import fitted_table
from seqdiag.table import Cell, CellValue, Style, TableSpec

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


def text_of(cell: Cell) -> Text:
    text = Text(style=STYLES[cell.style])
    for span in cell.spans:
        text.append(span.text, style=STYLES[span.style] or None)
    if cell.overlay:
        text.stylize(STYLES[cell.overlay])
    return text


def _renderable(value: CellValue) -> str | Text:
    return value if isinstance(value, str) else text_of(value)


def draw(spec: TableSpec) -> Table:
    """The spec as a Rich table: a simple head rule, no edge padding, fitted to its title and caption."""
    extra = {} if spec.padding is None else {"padding": spec.padding}
    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title=spec.title, caption=spec.caption, **extra)
    if spec.max_width is not None:
        table.min_width = min(table.min_width or 0, spec.max_width)
    for column in spec.columns:
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.no_wrap,
            style=STYLES[column.style] or None,
            min_width=column.min_width,
            overflow=column.overflow or "ellipsis",  # Rich's default
        )
    for row in spec.rows:
        if row.section:
            table.add_section()
        table.add_row(*[_renderable(c) for c in row.cells], style=STYLES[row.style] or None)
    return table
