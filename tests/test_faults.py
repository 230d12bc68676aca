"""Numerical faults: a too-large learning rate stops training with exit code 1, names the step and the learning
rate, saves the last good state marked stopped where no run existed, and never clobbers an existing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqdiag.cli import app
from seqdiag.config import load_config
from seqdiag.errors import RunFailure
from seqdiag.rundir import load_run, save_run
from seqdiag.train import train

TOO_LARGE_LR = str(Path(__file__).parent / "configs" / "too-large-lr.toml")


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def test_train_stops_at_the_step_and_keeps_the_last_good_weights():
    config = load_config(TOO_LARGE_LR)
    with pytest.raises(RunFailure, match=r"at step \d+: train.lr = 1e\+38 is likely too large") as caught:
        train(config)
    partial = caught.value.partial
    assert partial is not None and partial.stopped is not None
    assert len(partial.losses[0]) == partial.steps_done
    assert all(bool(torch.isfinite(p).all()) for p in partial.model.parameters())
    assert partial.history[-1].step == partial.steps_done


def test_cli_saves_the_last_good_run_marked_stopped(runner, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--config", TOO_LARGE_LR, "--out", str(out)])
    assert result.exit_code == 1, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "Traceback" not in result.output
    assert "at step" in error[0] and "train.lr = 1e+38 is likely too large" in error[0]
    assert f"is saved in {out} marked stopped" in error[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"].startswith(("loss became", "weights became", "the optimizer's update"))
    assert summary["interrupted"] is False
    run = load_run(out)  # loadable: every tensor finite, losses match the steps done
    assert run.stopped == summary["stopped"] and run.steps_done == summary["steps_done"]
    assert runner.invoke(app, ["sample", "--run", str(out), "--json"]).exit_code == 0
    resumed = runner.invoke(app, ["train", "--resume", str(out)])
    assert resumed.exit_code == 2 and "resuming would repeat it" in resumed.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_failed_train_never_clobbers_an_existing_run(runner, tmp_path, trained_tiny):
    out = save_run(trained_tiny, tmp_path / "run")
    before = _files(out)
    result = runner.invoke(app, ["train", "--config", TOO_LARGE_LR, "--out", str(out), "--force"])
    assert result.exit_code == 1
    assert f"{out} left unchanged" in result.stderr
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_compare_with_a_too_large_lr_fails_with_one_line(runner):
    result = runner.invoke(app, ["compare", "--config", TOO_LARGE_LR])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("engine ")]
    assert len(lines) == 1 and "train.lr = 1e+38 is likely too large (try 1e+37)" in lines[0]
    assert "Traceback" not in result.output
