"""Every table at 80 and 120 columns: row labels and numbers appear whole (never cut, never wrapped inside), only
free text is cut (with …) or wrapped, and no line is wider than the console. The rule lives in one place
(seqdiag.render.table); these render the tables that broke it, from made-up results as wide as real ones get."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from seqdiag.config import Config
from seqdiag.grid import GridCell, GridResult
from seqdiag.procedures import NAMES as PROCEDURES
from seqdiag.render.table import draw
from seqdiag.sweep import PolicySweep, ProcedureRates, SweepResult, matrix_table, rates_table, wilson_interval
from seqdiag.table import Column, Row, TableSpec

WIDTHS = (80, 120)


def _print(renderable, width: int) -> str:
    console = Console(width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


def _fits(text: str, width: int) -> list[str]:
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width, text
    return lines


def _rates(name: str, right: int, seeds: int) -> ProcedureRates:
    divergence: dict[int | None, int] = {1: 446, 2: 291, 0: 85, 3: 83, 4: 5}
    if right:
        divergence = {0: seeds - right, None: right}
    return ProcedureRates(name, right, seeds, wilson_interval(right, seeds), 1000 if right else None, 1.5, divergence)


def _policy(policy: str, seeds: int, right: int) -> PolicySweep:
    rates = {name: _rates(name, 0 if name == "zeros" else right, seeds) for name in PROCEDURES}
    return PolicySweep(policy, rates, 1000, 1.0)


def _sweep(seeds: int) -> SweepResult:
    policies = {p: _policy(p, seeds, right) for p, right in (("teacher", seeds * 11 // 12), ("free", seeds - 1))}
    return SweepResult(Config(), list(range(seeds)), policies, "cpu", 1.0, "01S")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seeds", [8, 64, 1024])
def test_sweep_rates_table_keeps_every_count_and_share_whole(width, seeds):
    sweep = _sweep(seeds)
    policy = sweep.policies["teacher"]
    lines = _fits(_print(draw(rates_table(policy, seeds, width)), width), width)
    text = "\n".join(lines)
    for name, rate in policy.rates.items():
        row = next(line for line in lines if line.split()[:1] == [name])
        lo, hi = rate.ci95
        for number in (f"{rate.right_at_end}/{seeds}", f"{rate.share:.0%}", f"{lo:.0%}–{hi:.0%}"):
            assert f" {number} " in f" {row} ", f"{number!r} cut in\n{text}"
        if rate.stable_from_median is not None:
            assert "after 1000" in row
    head = "\n".join(lines[: next(i for i, line in enumerate(lines) if "───" in line)])
    for header in ("procedure", "right", "share", "stays", "changes", "divergence"):
        assert re.search(rf"\b{header}\b", head), f"header {header!r} cut in\n{text}"
    assert "…" not in head, text
    # the numeric columns hold no …; free text may (first divergence, cut with …)
    assert not re.search(r"\d…", "\n".join(line[:50] for line in lines))


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_rates_table_leaves_out_the_bar_only_when_it_must_and_says_so(width):
    text = _print(draw(rates_table(_sweep(1024).policies["teacher"], 1024, width)), width)
    if width == 80:
        assert "●" not in text and "left out to fit 80 columns: 0 ─ 1" in " ".join(text.split())
    else:
        assert "●" in text and "left out" not in text
    assert "●" in _print(draw(rates_table(_sweep(8).policies["teacher"], 8, 80)), 80)  # room for it at 8 seeds


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("seeds", [4, 1024])
def test_sweep_matrix_wraps_between_numbers_never_inside_one(width, seeds):
    sweep = _sweep(seeds)
    text = _print(draw(matrix_table(sweep)), width)
    words = set(_fits(text, width) and text.split())
    for policy, policy_sweep in sweep.policies.items():
        assert policy in words
        for rate in policy_sweep.rates.values():
            assert f"{rate.right_at_end}/{seeds}" in words, text
            lo, hi = rate.ci95
            assert f"[{lo * 100:.0f}–{hi * 100:.0f}]" in words, text


@pytest.mark.parametrize("width", WIDTHS)
def test_grid_table_keeps_axes_labels_and_numbers_whole(width):
    cells = [(GridCell({"model.hidden_size": h, "train.lr": lr}, Config()), _sweep(1024)) for h, lr in ((5, 0.01),)]
    grid = GridResult("grid.toml", {"model.hidden_size": [5], "train.lr": [0.01]}, cells, "local", 3.0)
    text = _print(draw(grid.table()), width)
    words = set(_fits(text, width) and text.split())
    assert {"teacher", "free", "0.01", "938/1024", "1023/1024", "[99–100]"} <= words, text
    # a dotted key folds after its dots only where the table needs the room
    keys = {"model.hidden_size", "train.lr"} if width == 120 else {"model.", "hidden_size", "train.", "lr"}
    assert keys <= words, text
    assert "…" not in text


def test_a_table_that_cannot_fit_cuts_free_text_before_a_kept_column():
    spec = TableSpec(
        title="t",
        columns=(Column("name", keep=True), Column("count", justify="right"), Column("note", no_wrap=True)),
        rows=(Row(("a-long-row-label", "123456/123456", "free text " * 20)),),
    )
    text = _print(draw(spec), 50)
    assert "a-long-row-label" in text and "123456/123456" in text and "…" in text
    _fits(text, 50)


def test_kept_is_right_justified_unless_said():
    assert Column("n", justify="right").kept and not Column("text").kept
    assert Column("label", keep=True).kept and not Column("bar", justify="right", keep=False).kept


# Through the CLI, as piped output at a width: the tables a real run prints.

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(args: list[str], width: int) -> str:
    from typer.testing import CliRunner

    from seqdiag.cli import app

    result = CliRunner().invoke(app, [*args, "--threads", "1"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    _fits(result.stdout, width)
    return result.stdout


def _section(text: str, title: str, caption: str) -> str:
    """The lines of the table titled `title`, up to the start of its caption."""
    start = text.index(title)
    return text[start : text.index(caption, start)]


def _panel_lines(text: str) -> list[str]:
    return [line[2:-2].rstrip() for line in text.splitlines() if line.startswith("│ ") and line.endswith(" │")]


def _continues_indented(text: str) -> None:
    """Inside the findings box every line opens a part of a finding (a severity, `notes`, `fix:`) or is indented:
    a wrapped line never starts back at column 1."""
    openers = ("error[", "warning[", "note[", "notes:", "fix:")
    for line in _panel_lines(text):
        assert not line or line.startswith(openers) or line.startswith(" "), f"{line!r} starts at column 1\n{text}"


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_on_names_keeps_every_label_and_count_whole(width):
    out = _run(["compare", "--config", str(CONFIGS / "names.toml"), "--full", "--set", "train.steps=200"], width)
    names = (CONFIGS / "names.txt").read_text(encoding="utf-8").split()
    table = _section(out, "Per sequence", "cell = right/judged")
    assert set(names) <= set(table.split()), table
    totals = re.findall(r"\d+/\d+ · \d+/\d+", table)
    assert len(totals) == 4, table  # teacher, free, zeros, fresh: each total whole on its line
    assert "…" not in table
    recovery = _section(out, "Error recovery", "cell = sequences injected")
    assert "trained teacher" in recovery and "…" not in recovery, recovery
    history = _section(out, "Through training", "checkpoints, shown")
    assert all(word in history.split() for word in ("changes", "right", "reverted")), history
    assert not re.search(r"✗\s*\n", history), history  # a ✗k mark stays on its output's line
    _continues_indented(out)


def test_the_policy_matrix_keeps_its_row_labels_at_80_columns():
    args = ["compare", "--config", str(CONFIGS / "names.toml"), "--full", "--train", "teacher,free,scheduled"]
    out = _run([*args, "--set", "train.steps=100"], 80)
    matrix = _section(out, "Policy matrix", "cell = right/targets")
    body = matrix.split("───", 1)[1].splitlines()[1:]
    labels = [line.split()[0] for line in body if line[1:2].strip()]  # a row's first line: its label
    assert labels[:2] == ["teacher", "free"] and re.search(r"scheduled \(ε→\d\.\d\d\)", matrix), matrix
    assert "…" not in matrix and re.search(r"\d+\.\d{4}", matrix)  # the final loss, whole


@pytest.mark.parametrize("width", WIDTHS)
def test_check_keeps_target_and_counts_whole(width):
    out = _run(["check", str(EXAMPLES / "char_lstm_state_reset.py")], width)
    table = _section(out, "Per position", "cell = input fed")
    head = table.splitlines()[2]
    assert head.split()[:5] == ["t", "target", "teacher-forced", "free-running", "your"], table
    rows = [line.split() for line in table.splitlines()[4:] if line.split()[:1] and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == [str(t) for t in range(len(rows))] and len(rows) == 24
    assert "".join(r[1] for r in rows) == "ello␣world,␣hello␣there."  # every target, whole, in its column
    assert re.search(r"right\s+24/24\s+24/24\s+5/24", out), table
    _continues_indented(out)


def test_a_hanging_line_continues_under_its_own_text():
    from rich.text import Text

    from seqdiag.render.common import Hanging

    words = "the zeros output still changes late in training, staying wrong: 2 changes after step 150"
    lines = _print(Hanging(Text("   = " + words), 5), 40).splitlines()
    assert len(lines) > 2 and lines[0].startswith("   = the zeros")
    assert all(line.startswith("     ") and line[5] != " " for line in lines[1:]), lines
    assert " ".join(" ".join(lines).split()) == "= " + words  # every word, once, in order
    assert all(len(line) <= 40 for line in lines)
