"""A run of a sequence file is self-contained: it keeps its sequences (sequences.txt), records the file's path as
the user gave it, and loads, samples and compares the same when moved, or when its text file is edited or gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seqdiag.cli import app
from seqdiag.config import load_config, recorded_path, with_overrides
from seqdiag.errors import ConfigError, RunError
from seqdiag.fixes import fixed_config
from seqdiag.rundir import load_run, save_run
from seqdiag.sequence import SequenceSet
from seqdiag.train import train

WORDS = "tea\nsun\nrose\nmoon\nsky\n"
SMALL = [
    "sample.prompt=1", "model.gate=sigmoid", "model.embed_size=8", "model.hidden_size=16", "train.optimizer=adam",
    "train.lr=0.02", "train.steps=40", "train.snapshot_every=20",
]  # fmt: skip


def _set(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def _outputs(runner, run: str) -> tuple[str, str, str]:
    sample = runner.invoke(app, ["sample", "--run", run, "--json"])
    compare = runner.invoke(app, ["compare", "--run", run, "--json"])
    table = runner.invoke(app, ["compare", "--run", run, "--full"])
    for result in (sample, compare, table):
        assert result.exit_code == 0, result.output
    return sample.stdout, compare.stdout, table.stdout


def test_a_moved_run_whose_file_is_gone_samples_and_compares_the_same(runner, tmp_path, monkeypatch):
    source = tmp_path / "data" / "words.txt"
    source.parent.mkdir()
    source.write_text(WORDS)
    first, second = tmp_path / "first", tmp_path / "elsewhere" / "second"
    first.mkdir()
    second.mkdir(parents=True)
    monkeypatch.chdir(first)
    trained = runner.invoke(app, ["train", *_set([f"sequence.file={source}", *SMALL]), "--out", "run", "--json"])
    assert trained.exit_code == 0, trained.output
    before = _outputs(runner, "run")
    assert json.loads(before[1])["task"]["sequences"] == 5

    shutil.move(first / "run", second / "run")
    source.unlink()
    monkeypatch.chdir(second)
    assert _outputs(runner, "run") == before  # byte for byte

    source.write_text("other\nwords\n")  # a file of the same name, edited: the run keeps what it trained on
    assert _outputs(runner, "run") == before


def test_a_run_records_the_path_as_given_and_never_the_home_folder(tmp_path, monkeypatch):
    home = tmp_path / "home" / "alice"
    (home / "data").mkdir(parents=True)
    (home / "data" / "words.txt").write_text(WORDS)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "data")
    relative = load_config(None, ["sequence.file=words.txt", *SMALL])
    absolute = load_config(None, [f"sequence.file={home / 'data' / 'words.txt'}", *SMALL])
    assert relative.sequence.file == "words.txt"
    assert absolute.sequence.file == "~/data/words.txt"
    assert relative.sequence.lines == absolute.sequence.lines == ("tea", "sun", "rose", "moon", "sky")
    run = save_run(train(absolute), tmp_path / "run")
    for file in run.iterdir():
        assert str(tmp_path).encode() not in file.read_bytes(), file.name
    assert (run / "sequences.txt").read_text() == WORDS
    assert 'file = "~/data/words.txt"' in (run / "config.toml").read_text()
    assert recorded_path("/elsewhere/w.txt") == "/elsewhere/w.txt"  # outside the home folder: as given


def test_overrides_keep_the_sequences_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("words.txt").write_text(WORDS)
    config = load_config(None, ["sequence.file=words.txt", *SMALL])
    Path("words.txt").unlink()
    fixed = fixed_config(config, ["train.steps=80"])  # as --test-fixes retrains
    assert fixed.train.steps == 80 and fixed.sequence.lines == config.sequence.lines
    assert len(SequenceSet.from_config(fixed).sequences) == 5
    assert with_overrides(config, ["sample.temperature=1"]).sequence.lines == config.sequence.lines
    with pytest.raises(ConfigError, match="no such file"):  # a file the overrides name anew is read anew
        with_overrides(config, ["sequence.file=gone.txt"])


@pytest.fixture
def file_run(tmp_path) -> Path:
    (tmp_path / "words.txt").write_text(WORDS)
    return save_run(train(load_config(None, [f"sequence.file={tmp_path / 'words.txt'}", *SMALL])), tmp_path / "run")


def test_the_kept_sequences_are_checked(file_run):
    (file_run / "sequences.txt").write_text("sun\ntea\nrose\nmoon\nsky\n")  # same symbols, another order
    with pytest.raises(RunError, match="its files are not of one run"):
        load_run(file_run)
    (file_run / "sequences.txt").unlink()
    with pytest.raises(RunError, match="incomplete run, missing sequences.txt"):
        load_run(file_run)
    (file_run / "sequences.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(RunError, match=r"sequences.txt: not UTF-8 text"):
        load_run(file_run)


def test_sequences_in_a_run_of_no_file_are_refused(trained_tiny, tmp_path):
    run = save_run(trained_tiny, tmp_path / "run")
    assert not (run / "sequences.txt").exists()
    (run / "sequences.txt").write_text(WORDS)
    with pytest.raises(RunError, match="not a file of this run"):
        load_run(run)
