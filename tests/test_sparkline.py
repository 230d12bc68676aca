"""Sparklines and right-at-checkpoint strips: pure functions, and the glance table compare prints."""

import io
import math

from hypothesis import example, given
from hypothesis import strategies as st
from rich.console import Console

from seqdiag import procedures
from seqdiag.history import Snapshot
from seqdiag.sparkline import BLOCKS, groups, history_glance, sparkline


def test_sparkline_maps_the_range_onto_the_blocks():
    assert sparkline(range(8)) == BLOCKS
    assert sparkline([3.0, 3.0, 3.0]) == "▁▁▁"  # flat: at the bottom
    assert sparkline([0.0, math.nan, 1.0]) == "▁ █"
    assert sparkline([]) == ""
    assert sparkline([0.5], low=0.0, high=1.0) in ("▄", "▅")
    assert sparkline([2.0], low=0.0, high=1.0) == "█"  # clipped to the given range


def test_sparkline_of_the_widest_finite_range_spans_every_level():
    assert sparkline([-1.7976931304474924e308, 0.0, 1.7976931304474924e308]) == "▁▅█"


def test_sparkline_log_scale_spreads_orders_of_magnitude():
    assert sparkline([1.0, 0.1, 0.01, 0.001], log=True) == "█▆▃▁"
    assert sparkline([1.0, 0.0], log=True) == "▁ "  # zero has no logarithm


@example([4.414823413318623e299, -1.7976931304474924e308])  # hi - lo overflows to inf
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_sparkline_has_one_character_per_value(values):
    line = sparkline(values)
    assert len(line) == len(values)
    assert set(line) <= set(BLOCKS) | {" "}


@given(st.integers(1, 500), st.integers(1, 80))
def test_groups_cover_every_index_once_in_order(count, cells):
    parts = groups(count, cells)
    assert [i for part in parts for i in part] == list(range(count))
    assert len(parts) == min(count, cells)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def _history(outputs, every=10):
    return [Snapshot(i * every, 1.0 / (i + 1), {"free": o}, {"free": 0.0}) for i, o in enumerate(outputs)]


def test_history_glance_aligns_loss_and_strips_on_checkpoints():
    history = _history(["00S", "01S", "00S", "01S"])
    losses = [1.0] * 10 + [0.1] * 10 + [0.01] * 10
    glance = history_glance(history, losses, ["free"], "01S")
    assert glance.right == {"free": [0.0, 1.0, 0.0, 1.0]}
    assert glance.loss == "█▅▁▆"  # 1.0, 0.1, 0.01, then the final snapshot's own loss (0.25)
    assert (glance.first_step, glance.last_step, glance.checkpoints_per_cell) == (0, 30, 1)


def test_history_glance_groups_long_histories():
    history = _history(["01S"] * 100 + ["00S"] * 20)
    glance = history_glance(history, [0.5] * 1200, ["free"], "01S", cells=60)
    assert len(glance.right["free"]) == 60 and glance.checkpoints_per_cell == 2
    assert glance.right["free"][0] == 1.0 and glance.right["free"][-1] == 0.0
    assert history_glance([], [], ["free"], "01S") is None


def test_compare_prints_the_glance(trained_tiny):
    from seqdiag.render import history_glance_table
    from seqdiag.report import build_compare

    report = build_compare(trained_tiny, "trained now")
    console = Console(width=100, color_system=None, file=io.StringIO())
    console.print(history_glance_table(report, console.width))
    text = console.file.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("Training at a glance")
    blocks = set("▁▂▃▄▅▆▇█")
    legend = ("a column", "█ = pattern right")  # the legend's lines, which may wrap between its items
    rows = [w.split() for w in lines[1:] if not w.startswith(legend) and any(set(x) <= blocks for x in w.split())]
    # a row is `label [= label ...] strip summary`; procedures with the same strip share one row
    strips = {}
    for words in rows:
        at = next(i for i, w in enumerate(words) if set(w) <= set("▁▂▃▄▅▆▇█"))
        for name in words[:at]:
            if name != "=":
                strips[name] = words[at]
    assert set(strips) == {"loss", *procedures.COLUMNS}
    assert {len(strip) for strip in strips.values()} == {len(report.history)}  # one column per checkpoint
    assert f"right at {report.history_stats['free'].right}/{len(report.history)}" in text


def test_loss_line_is_a_log_sparkline_from_first_to_last():
    from seqdiag.render import loss_line

    assert loss_line([1.0, 0.1, 0.01]).plain == "loss █▅▁  per step 1.0000 → 0.0100 (log scale)"
    assert len(loss_line([1.0] * 5000).plain.split()[1]) == 60  # grouped into 60 columns


GLANCE_GOLDEN = """\
Training at a glance
   loss  █▅▁▅  1.0000 → 0.1000
teacher  ▁███  right at 3/4, reverted 0×
   free  ▁█▁█  right at 2/4, reverted 1×
a column per checkpoint, training steps 0–30 · █ = pattern right, ▁ = wrong · reverted = right→wrong · loss: log scale
"""


def _glance_report():
    """Just what history_glance_table reads from a CompareReport."""
    from types import SimpleNamespace

    from seqdiag.history import history_stats

    outputs = [("00S", "00S"), ("01S", "01S"), ("01S", "00S"), ("01S", "01S")]
    history = [
        Snapshot(i * 10, [1.0, 0.1, 0.01, 0.1][i], {"teacher": t, "free": f}, {}) for i, (t, f) in enumerate(outputs)
    ]
    losses = [1.0] * 10 + [0.1] * 10 + [0.01] * 10
    traces = {"teacher": SimpleNamespace(targets="01S"), "free": None, "refeed": None}
    stats = {m: history_stats(history, m, "01S") for m in ("teacher", "free")}
    return SimpleNamespace(history=history, losses=losses, traces=traces, history_stats=stats, outcomes=None)


def render_glance_golden() -> str:
    from seqdiag.render import history_glance_table

    console = Console(width=120, color_system=None, file=io.StringIO())
    console.print(history_glance_table(_glance_report()))
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def test_glance_table_golden():
    """Regenerate with: python -c 'import test_sparkline as t; print(t.render_glance_golden(), end="")' (in tests/)."""
    assert render_glance_golden() == GLANCE_GOLDEN


def test_sample_shows_p_target_under_the_generated_symbols(trained_tiny):
    from seqdiag.policy import Decoding
    from seqdiag.render import p_target_strip, render_sample
    from seqdiag.report import build_sample

    report = build_sample(trained_tiny, "trained now", "zeros", Decoding())
    strip = p_target_strip(report.trace)
    assert len(strip.plain) == len(report.trace.steps)
    assert strip.plain == sparkline([s.p_target for s in report.trace.steps], low=0.0, high=1.0)
    console = Console(width=120, color_system=None, file=io.StringIO())
    render_sample(console, report)
    lines = console.file.getvalue().splitlines()
    generated = next(line for line in lines if line.startswith("generated"))
    p_target = next(line for line in lines if line.startswith("p(target)"))
    assert generated.index(report.trace.output) == p_target.index(strip.plain)  # same columns
