"""The same config and seed give bit-identical runs across two processes on the CPU; the seed and the torch
version travel with every result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from seqdiag.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_two_processes_write_bit_identical_runs(tmp_path, tiny_overrides):
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "seqdiag", "train", "--json", "--out", str(tmp_path / name), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )  # fmt: skip
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "resume.safetensors"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summaries = [json.loads((run / "summary.json").read_text()) for run in (a, b)]
    for summary in summaries:
        summary.pop("seconds")
    assert summaries[0] == summaries[1]


def test_train_json_and_summary_carry_seed_and_torch_version(runner, tmp_path, tiny_overrides):
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    result = runner.invoke(app, ["train", "--json", "--seed", "7", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for record in (data, summary):
        assert record["seed"] == 7
        assert record["torch_version"] == torch.__version__
