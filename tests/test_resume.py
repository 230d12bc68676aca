"""Ctrl-C and --resume: a real `seqdiag train` sent SIGINT saves a loadable run marked interrupted, which
sample/compare can use, and `train --resume` finishes it bit-identically to a run never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqdiag.cli import app
from seqdiag.config import load_config
from seqdiag.rundir import load_run, save_run
from seqdiag.train import train

ROOT = Path(__file__).resolve().parents[1]
SAME = ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "resume.safetensors")


def _set(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def _same_files(a: Path, b: Path) -> None:
    for name in SAME:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_sigint_saves_an_interrupted_run_that_resumes_bit_identically(runner, tmp_path, tiny_overrides):
    overrides = [*tiny_overrides, "train.steps=1000", "train.snapshot_every=100"]
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        # The torch engine: it stops after the current step; the numba one would finish 1000 tiny steps before
        # the signal (its own resume is tested in test_engine.py).
        [sys.executable, "-m", "seqdiag", "train", "--engine", "torch", "--out", str(run), *_set(overrides)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        marker = proc.stderr.readline()  # printed once the Ctrl-C handler is in place, right before step 0
        assert "Ctrl-C stops after the current step" in marker, marker
        time.sleep(0.4)  # some hundreds of steps; the whole run takes seconds
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted after step" in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["steps_done"] < 1000
    loaded = load_run(run)
    assert loaded.interrupted and loaded.steps_done == summary["steps_done"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left

    sample = runner.invoke(app, ["sample", "--run", str(run), "--json"])
    assert sample.exit_code == 0, sample.output
    compare = runner.invoke(app, ["compare", "--run", str(run), "--json"])
    assert compare.exit_code == 0, compare.output
    assert json.loads(compare.stdout)["run"]["interrupted"] is True

    resumed = runner.invoke(app, ["train", "--resume", str(run), "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["interrupted"] is False
    reference = runner.invoke(
        app, ["train", "--engine", "torch", "--out", str(tmp_path / "reference"), *_set(overrides)]
    )
    assert reference.exit_code == 0, reference.output
    _same_files(run, tmp_path / "reference")
    again = runner.invoke(app, ["train", "--resume", str(run)])
    assert again.exit_code == 2 and "already complete" in again.stderr


@pytest.mark.parametrize(
    "extra",
    [[], ["train.optimizer=rmsprop", "train.policy=scheduled", "train.schedule_k=20"], ["train.optimizer=sgd"]],
    ids=["adam-teacher", "rmsprop-scheduled", "sgd"],
)
def test_interrupt_at_k_then_resume_equals_uninterrupted(runner, tmp_path, tiny_overrides, extra):
    overrides = [*tiny_overrides, *extra]
    config = load_config(None, overrides)
    asked = 0

    def stop_at_k() -> bool:
        nonlocal asked
        asked += 1
        return asked > 61  # stops before step 61: off the snapshot schedule, mid-way

    partial = train(config, should_stop=stop_at_k)
    assert partial.interrupted and partial.steps_done == 61
    save_run(partial, tmp_path / "run")
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "run")])
    assert resumed.exit_code == 0, resumed.output
    reference = runner.invoke(
        app, ["train", "--engine", "torch", "--out", str(tmp_path / "reference"), *_set(overrides)]
    )  # the engine train() took, as --resume continues on the engine the run records
    assert reference.exit_code == 0, reference.output
    _same_files(tmp_path / "run", tmp_path / "reference")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["steps_done"], summary["interrupted"]) == (150, False)


def test_resume_interrupted_again_leaves_the_run_as_it_was(runner, tmp_path, monkeypatch, tiny_config):
    config = tiny_config
    asked = 0

    def stop_at_k() -> bool:
        nonlocal asked
        asked += 1
        return asked > 40

    run = save_run(train(config, should_stop=stop_at_k), tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def second_ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("seqdiag.session.Session.train", second_ctrl_c)
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 130
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
