"""Every procedure on every sequence: the per-sequence table (rows, totals, which one is detailed)."""

from seqdiag.outcomes import Outcome, Outcomes, SequenceRow


def _outcomes(rows: int) -> Outcomes:
    def row(i: int) -> SequenceRow:
        wrong = i % 2 == 1
        return SequenceRow(
            i,
            f"name{i}",
            {
                "teacher": Outcome(f"name{i}^", 5, 5, None),
                "free": Outcome("x", 3 if wrong else 5, 5, 2 if wrong else None),
                "refeed": Outcome("x", 5, 5, None),
            },
        )

    return Outcomes("^", "file names.txt", 1, ["teacher", "free", "refeed"], [row(i) for i in range(rows)], 1)


def test_one_sequence_has_no_table():
    assert _outcomes(1).table(0) is None


def test_the_table_has_a_row_per_sequence_and_the_totals():
    spec = _outcomes(3).table(shown=1)
    assert spec is not None
    assert [c.header for c in spec.columns] == ["#", "sequence", "teacher", "free"]  # refeed: a check, no column
    assert spec.plain() == [
        ["0", "name0", "5/5", "5/5"],
        [">1", "name1", "5/5", "3/5 @2"],
        ["2", "name2", "5/5", "5/5"],
        ["", "total", "15/15 · 3/3 all right", "13/15 · 2/3 all right"],
    ]
    assert spec.rows[-1].section
    assert [c.style for c in spec.rows[1].cells[2:]] == ["good", "bad"]  # type: ignore[union-attr]
    assert "sequence 1, the one that goes wrong first" in (spec.caption or "")
    assert "the first symbol of each is given" in (spec.caption or "")
