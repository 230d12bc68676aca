"""Every command through CliRunner: exit codes, content, JSON shape, and one-line errors."""

import json

import pytest

from seqdiag import procedures
from seqdiag.cli import app

COMMANDS = ["train", "sample", "compare", "presets", "check", "explain"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_no_arguments_shows_help(runner):
    result = runner.invoke(app, [])
    assert "compare" in result.output and "sample" in result.output


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_compare_json_has_the_documented_shape(runner, tiny_overrides):
    result = runner.invoke(app, ["compare", "--json", *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"config", "seed", "modes", "history", "findings"} <= set(data)
    assert set(data["modes"]) == set(procedures.NAMES)
    for mode in data["modes"].values():
        assert {"steps", "accuracy", "first_divergence"} <= set(mode)
        assert {"t", "input", "predicted", "target", "correct", "p_target"} <= set(mode["steps"][0])
    assert len(data["modes"]["zeros"]["steps"]) == 8
    assert data["modes"]["zeros"]["steps"][1]["input"] is None  # a zero vector
    for snap in data["history"]:
        assert {"step", "loss", "outputs"} <= set(snap)
        assert set(snap["outputs"]) == set(procedures.NAMES)
    for finding in data["findings"]:
        assert {"id", "severity", "title", "evidence"} <= set(finding)
    assert data["seed"] == 0
    assert data["config"]["train"]["steps"] == 150


def test_compare_renders_three_parts(runner, tiny_overrides):
    result = runner.invoke(app, ["compare", *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    for part in ("verdict:", "Per position", "Training at a glance", "Findings", "fix:", "seed 0", "torch"):
        assert part in result.stdout
    assert "Through training" not in result.stdout  # the history table is behind --full
    full = runner.invoke(app, ["compare", "--full", *_set(tiny_overrides)])
    assert full.exit_code == 0, full.output
    assert "Through training" in full.stdout and "Input reliance" in full.stdout


def test_train_then_sample_and_compare_from_run(runner, tiny_overrides, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--out", str(out), *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "config.toml",
        "weights.safetensors",
        "history.jsonl",
        "losses.json",
        "summary.json",
        "resume.safetensors",
    }
    again = runner.invoke(app, ["train", "--out", str(out), *_set(tiny_overrides)])
    assert again.exit_code == 2 and "already exists" in again.output
    sample = runner.invoke(app, ["sample", "--mode", "zeros", "--run", str(out), "--json"])
    assert sample.exit_code == 0, sample.output
    data = json.loads(sample.stdout)
    assert data["mode"] == "zeros" and len(data["steps"]) == 8
    compare = runner.invoke(app, ["compare", "--run", str(out), "--json"])
    assert compare.exit_code == 0
    assert json.loads(compare.stdout)["run"]["source"] == str(out)
    table = runner.invoke(app, ["sample", "--run", str(out)])
    assert table.exit_code == 0 and "free: per step" in table.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["compare", "--set", "train.lr=abc"], "cannot parse 'abc' as float"),
        (["compare", "--set", "model.cell=gpt"], "model.cell = 'gpt'"),
        (["compare", "--config", "nosuch"], "no such file or preset"),
        (["sample", "--run", "does/not/exist"], "no such run directory"),
        (["sample", "--temperature", "-1"], "--temperature: sample.temperature = -1.0: must be >= 0"),
        (["sample", "--set", "sample.temperature=-1"], "--set: sample.temperature = -1.0: must be >= 0"),
        (["sample", "--top-k", "7"], "exceeds the vocabulary size 3"),
        (["train", "--set", "nokey"], "expected section.key=value"),
    ],
)
def test_user_errors_are_one_line_exit_2(runner, args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unknown_mode_lists_choices(runner):
    result = runner.invoke(app, ["sample", "--mode", "beam"])
    assert result.exit_code == 2
    for name in procedures.NAMES:
        assert name in result.output


def test_run_and_config_are_exclusive(runner, tmp_path):
    result = runner.invoke(app, ["compare", "--run", str(tmp_path), "--config", "original"])
    assert result.exit_code == 2 and "--run uses the run's own config" in result.output


def test_presets_lists_every_preset(runner):
    result = runner.invoke(app, ["presets", "--json"])
    names = {p["name"] for p in json.loads(result.stdout)["presets"]}
    assert {"original", "alternating", "period3", "pairs", "long"} <= names


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from seqdiag.cli import app; app(['--help'], standalone_mode=False); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_decoding_options_on_a_saved_run_are_checked_against_that_run(runner, tiny_overrides, tmp_path):
    out = tmp_path / "run"
    overrides = [*tiny_overrides, "sequence.pattern=abcd", "train.steps=3"]
    assert runner.invoke(app, ["train", "--out", str(out), *_set(overrides)]).exit_code == 0
    ok = runner.invoke(app, ["sample", "--run", str(out), "--temperature", "1", "--top-k", "4", "--json"])
    assert ok.exit_code == 0, ok.output  # a vocabulary of 5 (a, b, c, d, S) allows top-k 4
    data = json.loads(ok.stdout)
    assert (data["temperature"], data["top_k"]) == (1.0, 4)
    too_many = runner.invoke(app, ["sample", "--run", str(out), "--temperature", "1", "--top-k", "6"])
    assert too_many.exit_code == 2 and "exceeds the vocabulary size 5" in too_many.output
