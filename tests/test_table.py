"""A table as plain data (seqdiag.table) and the one function that draws any of them (seqdiag.render.table)."""

import re
from io import StringIO
from typing import get_args

import pytest
from rich.console import Console

from seqdiag.render.table import STYLES, draw, text_of
from seqdiag.table import Cell, Column, Row, Span, Style, TableSpec, assemble, mark, steps_after, styled


def _spec(**kwargs) -> TableSpec:
    return TableSpec(
        title="A measurement",
        caption="what the cells mean",
        columns=(Column("name"), Column("value", justify="right")),
        rows=(
            Row(("a", styled("1/2", "bad"))),
            Row(("b", assemble("2/2 ", mark(True), style="good"))),
            Row(("", "total"), section=True, style="strong"),
        ),
        **kwargs,
    )


def test_a_row_must_fill_the_columns():
    with pytest.raises(ValueError, match="a row has 1 cells for 2 columns"):
        TableSpec(title="t", columns=(Column("a"), Column("b")), rows=(Row(("x",)),))


def test_every_style_name_has_a_look():
    assert set(STYLES) == set(get_args(Style))


def test_assemble_keeps_each_piece_in_its_own_style():
    cell = assemble("cont. ", steps_after(None), ", back ", steps_after(2), Span(" *", "strong"), overlay="strong")
    assert cell.plain == "cont. never, back after 2 *"
    assert [s.style for s in cell.spans] == ["", "bad", "", "good", "strong"]
    assert cell.overlay == "strong"
    assert mark(None).plain == "—" and mark(None).spans[0].style == "" and mark(None).style == "muted"


def test_plain_reads_every_cell():
    assert _spec().plain() == [["a", "1/2"], ["b", "2/2 ✓"], ["", "total"]]


def _drawn(spec: TableSpec, colour: bool) -> str:
    out = StringIO()
    console = Console(file=out, width=80, force_terminal=colour, color_system="standard" if colour else None)
    console.print(draw(spec))
    return out.getvalue()


def test_draw_shows_title_headers_cells_and_caption():
    text = _drawn(_spec(), colour=False)
    for part in ("A measurement", "name", "value", "1/2", "2/2 ✓", "total", "what the cells mean"):
        assert part in text
    lines = [line.strip() for line in text.splitlines()]
    assert lines[lines.index("total") - 1] == ""  # the section break before the totals


def test_style_names_become_colours_only_in_the_renderer():
    text = _drawn(_spec(), colour=True)
    assert re.search(r"\x1b\[31m *1/2", text)  # bad = red
    assert re.search(r"\x1b\[32m *2/2", text)  # good = green
    assert re.search(r"\x1b\[1m *total", text)  # the strong totals row


def test_overlay_lies_over_every_span():
    text = text_of(Cell((Span("a", "good"), Span("b")), style="bad", overlay="strong"))
    assert text.plain == "ab"
    assert str(text.style) == "red"
    assert [str(s.style) for s in text.spans] == ["green", "bold"]
    assert (text.spans[-1].start, text.spans[-1].end) == (0, 2)


def test_max_width_keeps_a_long_caption_from_widening_the_table():
    wide = TableSpec(title="t", columns=(Column("a"),), rows=(Row(("x",)),), caption="word " * 40)
    assert draw(wide).table().min_width == 100
    assert draw(TableSpec(**{**wide.__dict__, "max_width": 60})).table().min_width == 60
    assert draw(wide).table(80).min_width == 80
