"""`seqdiag sweep` through typer's CliRunner: rates tables, JSON, the policy matrix, grids and errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from seqdiag import procedures
from seqdiag.cli import app

runner = CliRunner()
TINY = ["--set", "train.steps=20", "--set", "train.snapshot_every=5"]


def _json(argv: list[str]) -> dict:
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_sweep_help():
    result = runner.invoke(app, ["sweep", "--help"])
    assert result.exit_code == 0
    for option in ("--seeds", "--train", "--grid", "--executor", "--address", "--device", "--json"):
        assert option in result.stdout


def test_sweep_json_has_the_documented_shape():
    data = _json(["sweep", "--seeds", "3", "--seed", "4", *TINY, "--json"])
    assert data["command"] == "sweep"
    assert data["seeds"] == 3
    assert data["seed_range"] == [4, 6]
    assert set(data["rates"]) == set(procedures.NAMES)
    for rate in data["rates"].values():
        assert {"right_at_end", "seeds", "share", "ci95", "stable_from_median", "changes_second_half"} <= set(rate)
        assert rate["seeds"] == 3
    assert "policies" not in data


def test_sweep_several_policies_json_and_table():
    argv = ["sweep", "--seeds", "2", *TINY, "--train", "teacher,zeros"]
    data = _json([*argv, "--json"])
    assert set(data["policies"]) == {"teacher", "zeros"}
    assert data["rates"] == data["policies"]["teacher"]["rates"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "Trained with teacher: 2 seeds" in result.stdout
    assert "Trained with zeros: 2 seeds" in result.stdout
    assert "Rates: rows = what training fed" in result.stdout
    assert "95% interval" in result.stdout


def test_sweep_table_goes_to_stdout_progress_to_stderr():
    result = runner.invoke(app, ["sweep", "--seeds", "2", *TINY])
    assert result.exit_code == 0, result.output
    assert "seqdiag sweep" in result.stdout and "seeds 0..1 (2)" in result.stdout
    assert "as one batched stack" in result.stderr
    assert "as one batched stack" not in result.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sweep", "--train", "teacher,bogus"], "unknown policy 'bogus'"),
        (["sweep", "--set", "train.lr=-1"], "train.lr = -1.0: must be > 0"),
        (["sweep", "--executor", "ray"], "add --grid GRID.toml"),
        (["sweep", "--address", "auto"], "add --grid GRID.toml"),
        (["sweep", "--grid", "/nonexistent/grid.toml"], "no such file"),
        (["sweep", "--json", "--export", "x.svg"], "cannot be combined with --json"),
        (["sweep", "--device", "tpu"], "tpu"),
        (["sweep", "--seeds", "0"], "--seeds"),
    ],
)
def test_sweep_user_errors_are_one_line_exit_2(argv, needle):
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert needle in result.stderr
    assert result.stdout == ""


def test_sweep_cuda_without_a_gpu_is_a_user_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is available here")
    result = runner.invoke(app, ["sweep", "--seeds", "1", *TINY, "--device", "cuda"])
    assert result.exit_code == 2
    assert "no CUDA device" in result.stderr


GRID = """
[grid]
"model.hidden_size" = [3, 4]
"train.lr" = [0.001, 0.01]

[sweep]
seeds = 2
train = ["teacher"]
"""


def test_sweep_grid_json_and_table(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    data = _json(["sweep", "--grid", str(path), *TINY, "--json"])
    assert data["command"] == "sweep-grid"
    assert data["executor"] == "local"
    assert [c["values"] for c in data["cells"]] == [
        {"model.hidden_size": 3, "train.lr": 0.001},
        {"model.hidden_size": 3, "train.lr": 0.01},
        {"model.hidden_size": 4, "train.lr": 0.001},
        {"model.hidden_size": 4, "train.lr": 0.01},
    ]
    assert all(c["seeds"] == 2 and c["config"]["train"]["steps"] == 20 for c in data["cells"])
    result = runner.invoke(app, ["sweep", "--grid", str(path), *TINY, "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert "4 cells × 1 seeds" in result.stdout
    assert "model.hidden_size" in result.stdout
    assert "cell 4/4 training" in result.stderr


def test_sweep_grid_with_a_bad_cell_fails_before_training(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[grid]\n"model.hidden_size" = [3, 0]\n')
    result = runner.invoke(app, ["sweep", "--grid", str(path)])
    assert result.exit_code == 2
    assert "cell model.hidden_size=0" in result.stderr
