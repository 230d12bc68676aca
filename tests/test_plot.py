"""seqdiag plot: the figure set of a run, written as PNG and SVG; a clear message without matplotlib."""

import json
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from seqdiag import procedures
from seqdiag.cli import app
from seqdiag.plot import RUN_FIGURES, ProcedureCurve, RunCurves, _missing_steps, _running_mean


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_running_mean_averages_the_last_window():
    assert _running_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert _running_mean([], 3) == []


def test_missing_steps_names_the_steps_a_procedure_never_reaches():
    def curves(steps, targets):
        proc = ProcedureCurve("zeros", [0.5] * steps, [True] * steps, [[0.0]] * steps, [0.0] * steps)
        return proc, RunCurves("t", [], [], {"zeros": proc}, "x" * targets, 0.25)

    assert _missing_steps(*curves(30, 31)) == " · no step at t=30"
    assert _missing_steps(*curves(28, 31)) == " · no steps at t=28–30"
    assert _missing_steps(*curves(31, 31)) == ""


def test_plot_run_writes_every_figure_as_png_and_svg(trained_tiny, tmp_path):
    pytest.importorskip("matplotlib")
    from seqdiag.plot import plot_run, run_curves

    curves = run_curves(trained_tiny, "tiny")
    assert set(curves.procedures) == set(procedures.NAMES)
    assert curves.procedures["teacher"].drift == [0.0] * len(curves.targets)
    result = plot_run(curves, tmp_path / "figs", "tiny")
    assert [f.name for f in result.figures] == list(RUN_FIGURES)
    for figure in result.figures:
        png, svg = figure.paths
        with open(png, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        assert ElementTree.parse(svg).getroot().tag.endswith("svg")
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(
        f"{name}.{fmt}" for name in RUN_FIGURES for fmt in ("png", "svg")
    )  # nothing else, no temporary files


def test_plot_command_on_a_saved_run(runner, tiny_overrides, tmp_path):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "--out", str(run), *_set(tiny_overrides)]).exit_code == 0
    result = runner.invoke(app, ["plot", str(run), "--out", str(tmp_path / "figs"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["command"] == "plot" and data["kind"] == "run"
    for figure in data["figures"]:
        for path in figure["paths"]:
            assert (tmp_path / "figs" / path.rsplit("/", 1)[-1]).stat().st_size > 0
    table = runner.invoke(app, ["plot", str(run), "--out", str(tmp_path / "again")])
    assert table.exit_code == 0 and "loss.png" in table.stdout


def test_plot_without_matplotlib_says_how_to_install_it(runner, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = runner.invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install -e '.[plot]'" in result.output
    assert "seqdiag[" not in result.output  # the bare name on the package index is another project
    assert len(result.output.strip().splitlines()) == 1


def test_plot_rejects_a_json_that_is_not_a_sweep(runner, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "compare.json"
    path.write_text(json.dumps({"command": "compare"}))
    result = runner.invoke(app, ["plot", str(path), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "seqdiag sweep --json" in result.output


def test_plot_of_a_missing_run_is_one_line(runner, tmp_path):
    pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["plot", str(tmp_path / "nope"), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "no such run directory" in result.output


def _rate(right, seeds):
    share = right / seeds
    return {"right_at_end": right, "seeds": seeds, "share": share, "ci95": [max(0, share - 0.3), min(1, share + 0.3)]}


SWEEP = {
    "command": "sweep",
    "seeds": 8,
    "policy": "teacher",
    "rates": {"teacher": _rate(8, 8), "free": _rate(8, 8), "zeros": _rate(2, 8), "refeed": _rate(8, 8)},
    "policies": {
        "teacher": {"rates": {"teacher": _rate(8, 8), "free": _rate(8, 8), "zeros": _rate(2, 8)}},
        "zeros": {"rates": {"teacher": _rate(5, 8), "free": _rate(5, 8), "zeros": _rate(8, 8)}},
    },
}


def test_plot_command_on_a_sweep_json(runner, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    result = runner.invoke(app, ["plot", str(path), "--out", str(tmp_path / "figs"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "sweep" and [f["name"] for f in data["figures"]] == ["rates"]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["rates.png", "rates.svg"]


def test_sweep_rates_reads_one_or_several_policies():
    from seqdiag.plot import sweep_rates

    assert list(sweep_rates(SWEEP)) == ["teacher", "zeros"]
    single = {k: v for k, v in SWEEP.items() if k != "policies"}
    assert list(sweep_rates(single)) == ["teacher"] and sweep_rates(single)["teacher"]["zeros"]["right_at_end"] == 2


def test_plot_command_on_a_grid_sweep_json(runner, tmp_path):
    pytest.importorskip("matplotlib")
    cells = [{"values": {"model.hidden_size": h}, **SWEEP} for h in (5, 10)]
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"command": "sweep-grid", "seeds": 8, "cells": cells}))
    result = runner.invoke(app, ["plot", str(path), "--out", str(tmp_path / "figs"), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["figures"]
    assert [f["name"] for f in figures] == ["rates_cell0", "rates_cell1"]
    assert "model.hidden_size=10" in figures[1]["title"]


def test_plot_out_under_a_file_is_one_line(runner, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["plot", str(path), "--out", str(blocker / "figs")])
    assert result.exit_code == 2 and "cannot create the folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_plot_on_a_default_run_writes_every_figure(runner, tmp_path):
    """The issue's bar: `seqdiag plot` on a default (2015 setup, 5000 steps) run writes the figures."""
    pytest.importorskip("matplotlib")
    run = tmp_path / "default"
    assert runner.invoke(app, ["train", "--out", str(run)]).exit_code == 0
    result = runner.invoke(app, ["plot", str(run), "--out", str(tmp_path / "figs"), "--json"])
    assert result.exit_code == 0, result.output
    paths = [p for f in json.loads(result.stdout)["figures"] for p in f["paths"]]
    assert len(paths) == 2 * len(RUN_FIGURES)
    assert all((tmp_path / "figs" / p.rsplit("/", 1)[-1]).stat().st_size > 1000 for p in paths)


def test_the_same_run_gives_byte_identical_figures(trained_tiny, tmp_path):
    pytest.importorskip("matplotlib")
    from seqdiag.plot import plot_run, run_curves

    curves = run_curves(trained_tiny, "tiny")
    first = plot_run(curves, tmp_path / "a", "tiny", formats=("svg",))
    second = plot_run(curves, tmp_path / "b", "tiny", formats=("svg",))
    for a, b in zip(first.figures, second.figures, strict=True):
        with open(a.paths[0], "rb") as fa, open(b.paths[0], "rb") as fb:
            assert fa.read() == fb.read(), a.name
