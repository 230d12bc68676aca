"""The training history's own table: outputs where they changed, marked against the targets, and the summaries."""

from seqdiag import judgement
from seqdiag.history import HistoryStats, Snapshot, history_stats, history_table, output_mark
from seqdiag.table import marked


def _history(outputs: list[dict[str, str]]) -> list[Snapshot]:
    return [Snapshot(50 * i, 1.0 / (i + 1), o, {}) for i, o in enumerate(outputs)]


def _stats(history: list[Snapshot], targets: str) -> dict[str, HistoryStats]:
    return {m: history_stats(history, m, targets) for m in history[0].outputs}


def test_marked_output_and_its_mark():
    cell = marked("0110", "0101S")
    assert cell.plain == "0110" and [s.style for s in cell.spans] == ["good", "good", "alarm", "alarm"]
    assert marked("01010101", "01010101S", limit=5).plain == "0101…"
    assert output_mark("0101S", "0101S").plain == " ✓"
    assert output_mark("0110", "0101S").plain == " ✗2"
    assert output_mark("0101", "0101S").plain == " ✗4"  # stops short of the end symbol


def test_history_table_keeps_the_changes_and_summarises_each_procedure():
    targets = "0101S"
    history = _history(
        [
            {"teacher": "0000S", "free": "0000S", "refeed": "0000S"},
            {"teacher": "0000S", "free": "0000S", "refeed": "0000S"},
            {"teacher": "0101S", "free": "0101S", "refeed": "0101S"},
            {"teacher": "0101S", "free": "0100S", "refeed": "0100S"},
            {"teacher": "0101S", "free": "0100S", "refeed": "0100S"},
        ]
    )
    spec = history_table(history, _stats(history, targets), ["teacher", "free", "refeed"], targets)
    assert [c.header for c in spec.columns] == ["step", "loss", "teacher", "free"]  # refeed is a check of free
    rows = spec.plain()
    # the unchanged step 50 is left out
    assert [r[0] for r in rows] == ["0", "100", "150", "200", "changes", "right", "reverted"]
    assert rows[1][2:] == ["0101S ✓", "0101S ✓"] and rows[2][3] == "0100S ✗3"
    assert rows[4][2:] == ["1×", "2×"]
    assert rows[5][3] == "1/5" and rows[6][3] == "1×"
    assert "refeed = free at 5/5 checkpoints" in (spec.caption or "")
    assert spec.rows[4].section and spec.rows[4].style == "strong"


def test_history_table_shows_one_sequence_of_several():
    targets = judgement.join(["01S", "10S"])
    history = _history([{"teacher": judgement.join(["01S", "11S"])}])
    spec = history_table(history, _stats(history, targets), ["teacher"], "10S", sequence=1)
    assert spec.plain()[0][2] == "11S ✗1"  # the second sequence's piece, against its targets
