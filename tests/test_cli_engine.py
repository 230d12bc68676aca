"""--engine on every command that computes: the engine is recorded in the run and shown in every report, a config
the numba kernel does not cover falls back to torch and says so once, a bad choice is one line and exit 2."""

from __future__ import annotations

import json

import pytest

from seqdiag.cli import app

pytest.importorskip("numba")

TINY = ["sequence.length=8", "train.steps=40", "train.snapshot_every=20", "model.hidden_size=6"]


def _set(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_train_records_the_engine_in_the_run_and_its_report(runner, tmp_path, engine):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--engine", engine, "--out", str(out), "--json", *_set(TINY)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runtime"]["engine"] == engine
    assert json.loads((out / "summary.json").read_text())["runtime"]["engine"] == engine
    shown = runner.invoke(app, ["compare", "--run", str(out)])
    assert shown.exit_code == 0, shown.output
    assert f"engine {engine}" in shown.stdout.splitlines()[0]
    as_json = runner.invoke(app, ["sample", "--run", str(out), "--json"])
    assert json.loads(as_json.stdout)["run"]["engine"] == engine


def test_auto_takes_numba_once_its_kernels_are_cached(runner):
    result = runner.invoke(app, ["compare", "--json", *_set(TINY)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["engine"] == "numba"
    assert "engine" not in result.stderr  # nothing to explain


def test_an_unwritable_kernel_cache_falls_back_under_auto_and_is_refused_under_numba(runner, monkeypatch, tmp_path):
    from seqdiag import engine

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(engine.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(engine, "_loaded", {})
    result = runner.invoke(app, ["compare", "--json", *_set(TINY)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["engine"] == "torch"
    notes = [line for line in result.stderr.splitlines() if "engine" in line]
    assert len(notes) == 1 and "fell back" in notes[0] and "cannot be written" in notes[0]
    refused = runner.invoke(app, ["compare", "--engine", "numba", *_set(TINY)])
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1 and "--engine numba" in refused.stderr


@pytest.mark.slow
def test_auto_on_a_cold_cache_compiles_first_and_computes_with_numba(tmp_path):
    """The first run on a cold cache computes with the engine every later run takes (it compiles first)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SEQDIAG_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "seqdiag", "compare", "--json", *_set(TINY)]
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert json.loads(first.stdout)["run"]["engine"] == json.loads(again.stdout)["run"]["engine"] == "numba"
    assert json.loads(first.stdout)["summary"] == json.loads(again.stdout)["summary"]
    assert list((tmp_path / "cache" / "kernels").glob("*/manifest.json"))


def test_sweep_reports_its_engine(runner):
    result = runner.invoke(app, ["sweep", "--seeds", "40", "--threads", "2", "--engine", "numba", *_set(TINY)])
    assert result.exit_code == 0, result.output
    assert "engine numba" in result.stdout.splitlines()[0]
    as_json = runner.invoke(app, ["sweep", "--seeds", "3", "--engine", "torch", "--json", *_set(TINY)])
    assert json.loads(as_json.stdout)["engine"] == "torch"


def test_sweep_runs_the_kernel_on_every_cpu_by_default_with_the_same_results(runner, monkeypatch):
    from seqdiag import device

    monkeypatch.setattr(device, "available_cpus", lambda: 2)
    args = ["sweep", "--seeds", "70", "--engine", "numba", "--json", *_set(TINY)]
    default = runner.invoke(app, args)
    assert default.exit_code == 0, default.output
    one = runner.invoke(app, [*args, "--threads", "1"])
    assert one.exit_code == 0, one.output
    assert json.loads(default.stdout)["rates"] == json.loads(one.stdout)["rates"]
    shown = runner.invoke(app, [a for a in args if a != "--json"])
    assert "on 2 kernel threads" in shown.stderr
    assert "kernel threads" not in runner.invoke(app, [a for a in args if a != "--json"] + ["--threads", "1"]).stderr


def test_a_config_the_kernel_does_not_cover_falls_back_and_says_so_once(runner, monkeypatch):
    from seqdiag import engine

    monkeypatch.setattr(engine, "KERNEL_CELLS", ("lstm",))  # the kernel covers every cell: pretend it did not
    args = ["compare", "--engine", "numba", "--train", "teacher,zeros", "--json", *_set([*TINY, "model.cell=gru"])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["engine"] == "torch"
    notes = [line for line in result.stderr.splitlines() if "fell back" in line]
    assert len(notes) == 1 and "model.cell" in notes[0] and "'gru'" in notes[0]


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_every_cell_runs_on_numba(runner, cell):
    args = ["compare", "--engine", "numba", "--train", "teacher,free", "--json", *_set([*TINY, f"model.cell={cell}"])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["engine"] == "numba"
    assert "fell back" not in result.stderr


@pytest.mark.parametrize(
    ("task", "why"),
    [
        (["--set", "sequence.text=0110100110", "--set", "sample.prompt=2"], "sample.prompt = 2"),
        (["--config", "names"], "this task has 20"),
    ],
)
def test_a_task_the_kernel_does_not_train_falls_back_and_says_so_once(runner, task, why):
    small = _set(["train.steps=20", "train.snapshot_every=10"])
    for asked in ("auto", "numba"):
        result = runner.invoke(app, ["compare", "--engine", asked, "--json", *task, *small])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["run"]["engine"] == "torch"
        notes = [line for line in result.stderr.splitlines() if "fell back" in line]
        assert len(notes) == 1 and why in notes[0], result.stderr


def test_an_unknown_engine_is_one_line_and_exit_2(runner):
    result = runner.invoke(app, ["train", "--engine", "fast"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--engine" in result.stderr and "numba" in result.stderr
