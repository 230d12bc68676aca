"""The conventions a command line owes its users: --version, -h, completion, exit codes under --debug, --force,
a reader closing the pipe, a clean stderr, widths and legends without colour, and settings that would be ignored."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
from rich.console import Console

import seqdiag
from seqdiag.cli import app

COMMANDS = ["train", "sample", "compare", "sweep", "presets", "plot"]


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"seqdiag {seqdiag.__version__}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_short_help_works_like_long_help(runner, command):
    args = [] if command is None else [command]
    short, long = runner.invoke(app, [*args, "-h"]), runner.invoke(app, [*args, "--help"])
    assert short.exit_code == long.exit_code == 0
    assert "Usage" in short.stdout and short.stdout == long.stdout


def test_shell_completion_is_offered(runner):
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout
    script = runner.invoke(app, ["--show-completion", "bash"])
    assert script.exit_code == 0 and "complete" in script.stdout


def test_debug_keeps_the_exit_code_of_bad_input(runner):
    plain = runner.invoke(app, ["compare", "--set", "train.lr=-1"])
    debug = runner.invoke(app, ["compare", "--debug", "--set", "train.lr=-1"])
    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" in debug.stderr and "train.lr" in debug.stderr
    assert "Traceback" not in plain.stderr


def test_compare_out_force_replaces_a_run_like_train(runner, tiny_overrides, tmp_path):
    out = tmp_path / "run"
    args = ["compare", "--json", "--out", str(out), *_set(tiny_overrides)]
    assert runner.invoke(app, args).exit_code == 0
    first = (out / "summary.json").read_bytes() if (out / "summary.json").exists() else None
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = runner.invoke(app, [*args, "--force", "--seed", "1"])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    if first is not None:
        assert (out / "summary.json").read_bytes() != first  # replaced by the seed-1 run
    alone = runner.invoke(app, ["compare", "--force", *_set(tiny_overrides)])
    assert alone.exit_code == 2 and "--out" in alone.stderr


def _tiny_args(tiny_overrides):
    return [sys.executable, "-m", "seqdiag", "compare", *_set(tiny_overrides)]


def test_a_reader_closing_stdout_ends_quietly_with_0(tiny_overrides):
    """`seqdiag compare | head -1`: the reader is gone before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(_tiny_args(tiny_overrides), stdout=write_end, stderr=subprocess.PIPE, timeout=300)
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert b"Error" not in done.stderr and b"Traceback" not in done.stderr and b"error:" not in done.stderr


def test_help_through_head_1_ends_with_0():
    command = f"{sys.executable} -m seqdiag --help | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_head_1_through_a_shell(tiny_overrides):
    command = " ".join(_tiny_args(tiny_overrides)) + " | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    assert done.stdout.startswith("seqdiag compare")
    assert "Error" not in done.stderr and "Traceback" not in done.stderr and "error:" not in done.stderr


def test_stderr_has_no_blank_lines(tiny_overrides, tmp_path):
    args = [sys.executable, "-m", "seqdiag", "train", *_set(tiny_overrides), "--out", str(tmp_path / "run")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip(), "the training line is expected on stderr"
    assert all(line.strip() for line in done.stderr.splitlines()), repr(done.stderr)
    assert not done.stderr.startswith("\n") and not done.stderr.endswith("\n\n")


def test_compare_train_labels_the_policy_training(runner, tiny_overrides, monkeypatch):
    import seqdiag.render.progress as progress

    labels = []
    original = progress.training_progress

    @contextmanager
    def spy(console, total, enabled=True, label="training"):
        labels.append(label)
        with original(console, total, enabled, label) as on_step:
            yield on_step

    monkeypatch.setattr(progress, "training_progress", spy)
    result = runner.invoke(app, ["compare", "--train", "teacher,zeros,free", *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    assert labels == ["training teacher (1/3)", "training zeros (2/3)", "training free (3/3)"]


@pytest.mark.parametrize("width", [80, 120])
def test_progress_shows_label_step_total_and_loss_at_any_width(width):
    from seqdiag.history import Snapshot
    from seqdiag.render.progress import training_progress
    from seqdiag.train import TrainProgress

    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    snapshot = Snapshot(300, 0.1234, {"free": "01" * 15 + "S", "zeros": "0" * 30}, {})
    with training_progress(console, 300, label="training zeros (2/3)") as on_step:
        on_step(TrainProgress(300, 300, 0.1234, snapshot))
    text = console.file.getvalue()
    assert "training zeros (2/3)" in text and "300/300" in text and "loss 0.1234" in text


def test_progress_is_off_when_stderr_is_not_a_terminal():
    from seqdiag.render.progress import training_progress

    console = Console(file=io.StringIO(), width=120)  # a file: not a terminal
    with training_progress(console, 10) as on_step:
        on_step(type("P", (), {"step": 10, "total": 10, "loss": 0.5, "snapshot": None})())
    assert console.file.getvalue() == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["compare", "--top-k", "2"], "sample.top_k = 2 has no effect at sample.temperature = 0"),
        (["sample", "--set", "sample.top_k=2"], "sample.top_k = 2 has no effect"),
        (["compare", "--rollouts", "4"], "--rollouts 4 at temperature 0"),
        (
            ["compare", "--set", "model.cell=rnn", "--set", "model.gate=sigmoid"],
            "model.gate = 'sigmoid' has no effect for model.cell = 'rnn'",
        ),
    ],
)
def test_settings_that_would_be_ignored_are_refused(runner, args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_settings_that_take_effect_are_accepted():
    from seqdiag.config import load_config

    assert load_config(None, ["sample.top_k=2", "sample.temperature=1"]).sample.top_k == 2
    assert load_config(None, ["model.cell=rnn"]).model.cell == "rnn"


def test_presets_answers_without_importing_torch():
    code = "import sys; from seqdiag.cli import app; app(['presets'], standalone_mode=False); "
    code += "print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert "original" in done.stdout


@pytest.mark.parametrize(("columns", "width"), [("80", 80), ("150", 150), (None, 120)])
def test_piped_output_honours_columns(monkeypatch, columns, width):
    from seqdiag.render.common import stdout_console

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # piped: not a terminal
    assert stdout_console().width == width


def _report(trained_tiny):
    from seqdiag.report import build_compare

    return build_compare(trained_tiny, "trained now")


def test_history_table_keeps_step_and_loss_at_80_columns_and_marks_wrong_without_colour(trained_tiny):
    from seqdiag.render.compare import history_table

    report = _report(trained_tiny)
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(history_table(report, width=80))
    lines = console.file.getvalue().splitlines()
    assert any(line.split()[:3] == ["step", "loss", "teacher"] for line in lines), "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "red = wrong" not in text
    assert "✗" in text  # the first checkpoint's outputs are wrong: marked by a character, not a colour


def test_repeated_rows_collapse_and_identical_columns_merge(trained_tiny):
    from seqdiag.render.compare import per_step_table, repeated_runs

    assert repeated_runs([("a",), ("b",), ("c",), ("b",), ("c",), ("b",), ("c",), ("d",)]) == [(3, 7, 2)]
    assert repeated_runs([("a",), ("b",), ("a",), ("b",)]) == []  # one repeat is not collapsed
    assert repeated_runs([("x",)] * 5) == [(1, 5, 1)]
    traces = _report(trained_tiny).traces
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(per_step_table({"teacher": traces["teacher"], "again": traces["teacher"]}))
    text = console.file.getvalue()
    assert "teacher = again" in text


def test_default_compare_names_the_procedures_and_prints_the_verdict_once(runner, tiny_overrides):
    result = runner.invoke(app, ["compare", *_set(tiny_overrides)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "your sampler: one predict on S then zero vectors" in out
    headline = next(line for line in out.splitlines() if line.startswith("verdict:"))[len("verdict: ") :]
    assert out.count(headline) == 1
    assert "Findings" in out and "fix:" in out


@pytest.mark.parametrize("terminal", [False, True])
def test_the_kernel_compile_is_announced_when_it_starts_on_a_pipe_too(terminal):
    from seqdiag.render.progress import kernel_progress

    console = Console(file=io.StringIO(), force_terminal=terminal, width=120)
    with kernel_progress(console, compiling=True):
        before = console.file.getvalue()
    after = console.file.getvalue()
    if not terminal:  # a spinner is not drawn on a pipe: the step is a line, written before the compile runs
        assert "compiling the numba kernels (a one-time step" in before
    assert "compiled the numba kernels in" in after
    quiet = Console(file=io.StringIO(), force_terminal=False, width=120)
    with kernel_progress(quiet, compiling=False):
        pass
    assert quiet.file.getvalue() == ""  # loading a cached kernel is not worth a line
