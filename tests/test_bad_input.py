"""Bad input, everywhere it enters, through the real CLI: exit code 2, one line on stderr naming the culprit,
no traceback, and nothing written (no run directory appears, an existing run stays byte for byte the same)."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from seqdiag.cli import app
from seqdiag.rundir import save_run

TINY_ARGS = [
    "--set", "sequence.length=8", "--set", "model.gate=sigmoid", "--set", "model.embed_size=4",
    "--set", "model.hidden_size=8", "--set", "train.optimizer=adam", "--set", "train.lr=0.05",
    "--set", "train.steps=150", "--set", "train.snapshot_every=25",
]  # fmt: skip


class Unpickled:
    """A pickle whose loading creates a marker file: proof that nothing unpickles a run's files."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _config(tmp: Path, text: str | bytes) -> str:
    path = tmp / "bad.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def _edit(run: Path, name: str, change: Callable[[str], str]) -> None:
    (run / name).write_text(change((run / name).read_text()))


def _summary(run: Path, **changes) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary.update(changes)
    (run / "summary.json").write_text(json.dumps(summary))


def _weights(run: Path, change: Callable[[dict], None]) -> None:
    tensors = load_file(str(run / "weights.safetensors"))
    change(tensors)
    save_file(tensors, str(run / "weights.safetensors"))


def _nan(tensors: dict) -> None:
    tensors["out_bias"][0, 0] = float("nan")


def _pickle(run: Path, name: str) -> None:
    (run / name).write_bytes(pickle.dumps(Unpickled(run.parent / "UNPICKLED")))


def _truncate(run: Path) -> None:
    data = (run / "weights.safetensors").read_bytes()
    (run / "weights.safetensors").write_bytes(data[: len(data) // 2])


def _run_args(command: str = "sample") -> Callable[[Path, Path], list[str]]:
    return lambda tmp, run: [command, "--run", str(run)]


# (id, how to build the arguments from (tmp_path, a saved run), what to do to the run first, what stderr names)
CASES: list[tuple[str, Callable[[Path, Path], list[str]], Callable[[Path], None] | None, str]] = [
    # config files
    ("toml-malformed", lambda t, r: ["train", "-c", _config(t, "[train\nlr = 1")], None, "malformed TOML"),
    ("toml-wrong-type", lambda t, r: ["train", "-c", _config(t, '[model]\nhidden_size = "ten"')], None,
     "model.hidden_size = 'ten': expected int, got str"),
    ("toml-unknown-section", lambda t, r: ["train", "-c", _config(t, "[optim]\nlr = 1")], None,
     "optim = {'lr': 1}: unknown section or key"),
    ("toml-unknown-key", lambda t, r: ["train", "-c", _config(t, "[train]\nlearning_rate = 0.1")], None,
     "train.learning_rate = 0.1: unknown key"),
    ("toml-section-not-table", lambda t, r: ["train", "-c", _config(t, "sequence = 5")], None,
     "sequence = 5: must be a table of keys"),
    ("toml-empty-pattern", lambda t, r: ["train", "-c", _config(t, '[sequence]\npattern = ""')], None,
     "sequence.pattern = '': must not be empty"),
    ("toml-pattern-uses-start", lambda t, r: ["train", "-c", _config(t, '[sequence]\npattern = "0S1"')], None,
     "sequence.start_symbol = 'S': must not occur in the pattern '0S1'"),
    ("toml-non-ascii-symbol", lambda t, r: ["train", "-c", _config(t, '[sequence]\npattern = "αβ"')], None,
     "sequence.pattern = 'α': symbols are single printable ASCII characters"),
    ("toml-multichar-start", lambda t, r: ["train", "-c", _config(t, '[sequence]\nstart_symbol = "<s>"')], None,
     "sequence.start_symbol = '<s>'"),
    ("toml-negative-length", lambda t, r: ["train", "-c", _config(t, "[sequence]\nlength = -3")], None,
     "sequence.length = -3: must be > 0"),
    ("toml-absurd-width", lambda t, r: ["train", "-c", _config(t, "[model]\nhidden_size = 1000000")], None,
     "model.hidden_size = 1000000: must be <= 4096"),
    ("toml-parameter-budget", lambda t, r: ["train", "-c", _config(
        t, "[model]\nhidden_size = 4096\nembed_size = 4096")], None, "parameters; at most 50,000,000"),
    ("toml-history-budget", lambda t, r: ["train", "-c", _config(
        t, "[sequence]\nlength = 100\n[train]\nsteps = 10000000\nsnapshot_every = 1")], None,
     "train.snapshot_every = 1: 10,000,002 snapshots"),
    ("toml-nan-lr", lambda t, r: ["train", "-c", _config(t, "[train]\nlr = nan")], None,
     "train.lr = nan: must be a finite number"),
    ("toml-deeply-nested", lambda t, r: ["train", "-c", _config(t, "a = " + "[" * 5000)], None, "malformed TOML"),
    ("config-is-directory", lambda t, r: ["train", "-c", str(t)], None, "is a directory, not a TOML file"),
    ("config-binary", lambda t, r: ["train", "-c", _config(t, b"\x89PNG\r\n\x1a\n\xff\xfe\x00")], None,
     "not a TOML text file"),
    ("config-missing", lambda t, r: ["train", "-c", str(t / "nosuch.toml")], None, "no such file or preset"),
    # --set
    ("set-no-equals", lambda t, r: ["train", "--set", "nokey"], None, "--set 'nokey': expected section.key=value"),
    ("set-unknown-key", lambda t, r: ["train", "--set", "model.depth=2"], None, "unknown key 'model.depth'"),
    ("set-unknown-section", lambda t, r: ["train", "--set", "optim.lr=1"], None, "unknown key 'optim.lr'"),
    ("set-unparsable", lambda t, r: ["compare", "--set", "train.lr=abc"], None, "cannot parse 'abc' as float"),
    ("set-float-for-int", lambda t, r: ["train", "--set", "train.steps=1.5"], None,
     "train.steps = 1.5: expected int, got float"),
    ("set-empty-value", lambda t, r: ["train", "--set", "train.steps="], None, "cannot parse '' as int"),
    ("set-start-in-pattern", lambda t, r: ["train", "--set", "sequence.start_symbol=0"], None,
     "must not occur in the pattern"),
    ("set-inf", lambda t, r: ["train", "--set", "sample.temperature=inf"], None,
     "sample.temperature = inf: must be a finite number"),
    # CLI options
    ("seed-negative", lambda t, r: ["train", "--seed", "-1"], None, "seed = -1: must be in [0, 2**63)"),
    ("mode-unknown", lambda t, r: ["sample", "--mode", "beam"], None, "'beam' is not one of"),
    ("temperature-negative", lambda t, r: ["sample", "--temperature", "-1"], None,
     "--temperature: sample.temperature = -1.0: must be >= 0"),
    ("top-k-over-vocabulary", lambda t, r: ["sample", "--top-k", "7"], None, "exceeds the vocabulary size 3"),
    ("top-k-negative", lambda t, r: ["compare", "--top-k", "-1"], None, "--top-k: sample.top_k = -1: must be >= 0"),
    ("option-unknown", lambda t, r: ["train", "--bogus"], None, "No such option: --bogus"),
    ("threads-zero", lambda t, r: ["train", "--threads", "0"], None, "'--threads'"),
    ("run-with-config", lambda t, r: ["compare", "--run", str(r), "--config", "original"], None,
     "--run uses the run's own config"),
    ("resume-with-set", lambda t, r: ["train", "--resume", str(r), "--set", "train.lr=1"], None,
     "--resume continues the run's own config"),
    # run directories
    ("run-missing", lambda t, r: ["sample", "--run", str(t / "nope")], None, "no such run directory"),
    ("run-empty", lambda t, r: ["sample", "--run", str(t / "empty")], lambda r: (r.parent / "empty").mkdir(),
     "not a seqdiag run"),
    ("run-is-a-file", lambda t, r: ["compare", "--run", str(r / "losses.json")], None, "is a file, not a run"),
    ("run-not-a-run", lambda t, r: ["sample", "--run", str(t / "notes")],
     lambda r: (r.parent / "notes").mkdir() or (r.parent / "notes" / "todo.txt").write_text("x"), "not a seqdiag run"),
    ("run-missing-file", _run_args(), lambda r: (r / "weights.safetensors").unlink(),
     "incomplete run, missing weights.safetensors"),
    ("run-other-version", _run_args(), lambda r: _summary(r, run_format=1, seqdiag_version="0.0.1"),
     "run_format = 1 (written by seqdiag 0.0.1)"),
    ("run-other-shape", _run_args(), lambda r: _edit(r, "config.toml", lambda s: s.replace("hidden_size = 8",
     "hidden_size = 9")), "has shape"),
    ("run-config-garbage", _run_args(), lambda r: _edit(r, "config.toml", lambda s: "[[[" + s),
     "config.toml: not readable TOML"),
    ("run-config-unknown-key", _run_args("compare"), lambda r: _edit(r, "config.toml", lambda s: "extra = 1\n" + s),
     "config.toml: extra = 1: unknown section or key"),
    ("run-weights-truncated", _run_args(), _truncate, "weights.safetensors: not a readable safetensors file"),
    ("run-weights-garbage", _run_args(), lambda r: (r / "weights.safetensors").write_bytes(b"\x00garbage"),
     "weights.safetensors: not a readable safetensors file"),
    ("run-weights-extra-tensor", _run_args(), lambda r: _weights(r, lambda t: t.update(extra=t["out_bias"].clone())),
     "unexpected tensor 'extra'"),
    ("run-weights-nan", _run_args(), lambda r: _weights(r, _nan), "out_bias holds NaN or infinite values"),
    ("run-history-garbage", _run_args(), lambda r: (r / "history.jsonl").write_text("{not json\n"),
     "history.jsonl: line 1 is not a snapshot"),
    ("run-history-wrong-types", _run_args(), lambda r: (r / "history.jsonl").write_text(
        '{"step": 0, "loss": "low", "outputs": 5, "accuracy": null}\n'), "history.jsonl: line 1 is not a snapshot"),
    ("run-losses-garbage", _run_args(), lambda r: (r / "losses.json").write_text("[1, 2,"),
     "losses.json: unreadable JSON"),
    ("run-losses-strings", _run_args(), lambda r: (r / "losses.json").write_text('["a"]'),
     "losses.json: expected a list of finite losses"),
    ("run-summary-wrong-type", _run_args(), lambda r: _summary(r, steps_done="many"), "steps_done = 'many'"),
    ("run-pickle-as-weights", _run_args(), lambda r: _pickle(r, "weights.safetensors"),
     "weights.safetensors: not a readable safetensors file"),
    ("run-pickle-as-optimizer", _run_args("compare"), lambda r: _pickle(r, "resume.safetensors"),
     "resume.safetensors: not a readable safetensors file"),
    ("run-extra-weights-pt", _run_args(), lambda r: _pickle(r, "weights.pt"), "weights.pt: not a file seqdiag writes"),
    ("resume-complete-run", lambda t, r: ["train", "--resume", str(r)], None, "already complete (150 steps)"),
    # where a run would be written
    ("out-exists", lambda t, r: ["train", *TINY_ARGS, "--out", str(r)], None, "already exists; pass --force"),
    ("out-force-not-a-run", lambda t, r: ["train", *TINY_ARGS, "--force", "--out", str(t / "docs")],
     lambda r: (r.parent / "docs").mkdir() or (r.parent / "docs" / "thesis.txt").write_text("x"),
     "not a seqdiag run; --force replaces only a run directory"),
    ("out-under-a-file", lambda t, r: ["train", *TINY_ARGS, "--out", str(r / "losses.json" / "sub")], None,
     "losses.json is a file"),
    ("compare-out-exists", lambda t, r: ["compare", *TINY_ARGS, "--out", str(r)], None, "already exists"),
]  # fmt: skip


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, trained_tiny) -> Path:
    return save_run(trained_tiny, tmp_path_factory.mktemp("saved") / "run")


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def test_at_least_thirty_distinct_cases():
    assert len({case[0] for case in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize(("args", "prepare", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    runner, tmp_path, monkeypatch, saved_run, args, prepare, needle
):
    monkeypatch.chdir(tmp_path)  # a default run directory (runs/...) would appear here
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    if prepare is not None:
        prepare(run)
    argv = args(tmp_path, run)
    before = _tree(tmp_path)
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert _tree(tmp_path) == before  # no run directory appeared, the existing one is byte for byte the same
    assert not (tmp_path / "UNPICKLED").exists()  # a crafted pickle was never loaded
