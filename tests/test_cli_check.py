"""`seqdiag check` through the CLI: the table and the findings, --json, --export, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from seqdiag.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_help_says_it_runs_the_users_code(runner):
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "runs its code" in text and "pytest" in text and "generate(model, prompt, n)" in text


def test_check_shows_the_steps_and_names_the_bug(runner):
    result = runner.invoke(app, ["check", str(EXAMPLES / "char_lstm_state_reset.py")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("verdict:") < out.index("Per position") < out.index("error[sampler-state-reset]")
    assert "your generate" in out and "1 window · fresh state" in out
    assert "help: pass the state returned by the previous call" in out
    assert "24/24" in out and "5/24" in out


def test_check_json(runner):
    result = runner.invoke(app, ["check", str(EXAMPLES / "transformer_window.py"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["command"] == "check" and data["findings"][0]["id"] == "sampler-window"
    steps = data["sequences"][0]["steps"]
    assert [s["seen"] for s in steps[:6]] == [1, 2, 3, 4, 4, 4]
    assert data["sequences"][0]["correct"]["free"] == len(steps)


def test_check_export_writes_what_was_shown(runner, tmp_path):
    out = tmp_path / "check.txt"
    result = runner.invoke(app, ["check", str(EXAMPLES / "onehot_zeros.py"), "--export", str(out)])
    assert result.exit_code == 0, result.output
    saved = out.read_text()
    assert "error[sampler-unseen-inputs]" in saved and "∅→" in saved


def test_a_broken_file_is_one_line_exit_2_and_debug_shows_the_traceback(runner, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(
        "import torch\nmodel = torch.nn.Embedding(2, 2)\nvocab = 'ab'\nsequence = 'abab'\n\n"
        "def generate(model, prompt, n):\n    raise RuntimeError('boom')\n"
    )
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(path) in lines[0] and "generate(model, prompt, n=3) raised RuntimeError: boom (line 7)" in lines[0]
    debug = runner.invoke(app, ["check", str(path), "--debug"])
    assert debug.exit_code == 2 and "Traceback" in debug.stderr and "boom" in debug.stderr  # same code, + traceback


def test_missing_file_and_bad_prompt(runner, tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path / "nope.py")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    result = runner.invoke(app, ["check", str(EXAMPLES / "onehot_ok.py"), "--prompt", "0"])
    assert result.exit_code == 2


TINY_USER = """
import torch
from torch import nn

print("loading my model")  # a user's print: not a result
vocab = ["x", "y", "z"]
sequences = [["x", "y", "z", "x"], ["y", "z", "x", "y", "z"]]
torch.manual_seed(0)
model = nn.Sequential(nn.Embedding(3, 3))


def generate(model, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        print("step")
        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt):]
"""


def test_user_prints_go_to_stderr_and_json_stays_clean(runner, tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY_USER)
    result = runner.invoke(app, ["check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["sequences"]) == 2 and data["vocab"] == ["x", "y", "z"]
    assert "loading my model" in result.stderr and "step" in result.stderr


def test_several_sequences_get_a_table_each(runner, tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY_USER)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "sequence 1" in result.stdout and "sequence 2" in result.stdout
