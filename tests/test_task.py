"""The task seam: sequence.text, sequence.file (many sequences as one batch), sample.prompt, compare per sequence."""

import json

import pytest
import torch

from seqdiag.config import load_config
from seqdiag.errors import ConfigError
from seqdiag.sequence import PAD, SequenceSet
from seqdiag.task import MAX_LINE_SYMBOLS, MAX_SEQUENCES, MAX_VOCABULARY, choose_marker, task_from_config

SMALL = ["model.gate=sigmoid", "model.embed_size=8", "model.hidden_size=24", "train.optimizer=adam", "train.lr=0.02"]


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_text_spells_out_one_sequence():
    config = load_config(None, ["sequence.text=0110100110010110"])
    seqs = SequenceSet.from_config(config)
    assert len(seqs.sequences) == 1
    assert seqs.sequences[0].target_text() == "0110100110010110S"
    assert seqs.vocabulary.symbols == ("0", "1", "S")


def test_text_refuses_the_start_symbol_and_file_together(tmp_path):
    with pytest.raises(ConfigError, match=r"sequence.start_symbol = 'S': must not occur in the text"):
        load_config(None, ["sequence.text=0S1"])
    (tmp_path / "a.txt").write_text("ab\n")
    with pytest.raises(ConfigError, match="not both"):
        load_config(None, ["sequence.text=01", f"sequence.file={tmp_path / 'a.txt'}"])


def test_a_file_is_every_non_empty_line_with_a_marker_not_in_the_text(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("Sam\n\nAnna\r\nBo\n", encoding="utf-8")
    config = load_config(None, [f"sequence.file={path}"])
    seqs = SequenceSet.from_config(config)
    assert seqs.task.marker == "^"  # 'S' occurs in the text
    assert [s.target_text() for s in seqs.sequences] == ["Sam^", "Anna^", "Bo^"]
    targets = seqs.batch_targets()
    assert targets.shape == (3, 5) and int(targets[2, 3]) == PAD and int(targets[2, 4]) == PAD
    assert choose_marker("ab", "S") == "S"


def test_a_relative_file_is_found_beside_the_config_that_names_it(tmp_path):
    (tmp_path / "words.txt").write_text("ab\nba\n")
    (tmp_path / "run.toml").write_text('[sequence]\nfile = "words.txt"\n')
    config = load_config(str(tmp_path / "run.toml"))
    assert config.sequence.lines == ("ab", "ba")
    assert config.sequence.file == "words.txt"  # as given: read once, never made absolute


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"ab\x00cd\n", "control character U+0000"),
        (b"\xff\xfeab", "not UTF-8"),
        (("x" * (MAX_LINE_SYMBOLS + 1) + "\n").encode(), f"at most {MAX_LINE_SYMBOLS}"),
        (("ab\n" * (MAX_SEQUENCES + 1)).encode(), f"at most {MAX_SEQUENCES:,}"),
        ("".join(chr(0x4E00 + i) for i in range(MAX_VOCABULARY)).encode(), "distinct symbols"),
    ],
)
def test_bad_files_are_refused_in_one_line_naming_the_file(runner, tmp_path, content, message):
    from seqdiag.cli import app

    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    result = runner.invoke(app, ["compare", "--set", f"sequence.file={path}"])
    assert result.exit_code == 2, result.output
    assert "bad.txt" in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "message"), [("a-folder", "a folder, not a file"), ("x" * 300, "cannot read"), ("missing", "no such file")]
)
def test_a_path_that_is_not_a_readable_file_is_one_line(runner, tmp_path, name, message):
    from seqdiag.cli import app

    (tmp_path / "a-folder").mkdir()
    result = runner.invoke(app, ["compare", "--set", f"sequence.file={tmp_path / name}"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert len(result.stderr) < 300  # a long name is cut in the message


def test_a_prompt_must_leave_something_to_predict(tmp_path):
    with pytest.raises(ConfigError, match="sample.prompt = 4"):
        load_config(None, ["sequence.text=0110", "sample.prompt=4"])
    (tmp_path / "w.txt").write_text("abc\nde\n")
    with pytest.raises(ConfigError, match="shortest sequence has 2 symbols"):
        load_config(None, [f"sequence.file={tmp_path / 'w.txt'}", "sample.prompt=2"])


def test_the_loss_of_a_padded_batch_is_the_mean_over_real_targets():
    from seqdiag.train import per_model_loss

    logits = torch.randn(2, 2, 4, 3)
    targets = torch.tensor([[0, 1, 2, 1], [2, 0, PAD, PAD]])
    expected = [
        torch.cat(
            [
                torch.nn.functional.cross_entropy(logits[n, 0], targets[0], reduction="none"),
                torch.nn.functional.cross_entropy(logits[n, 1, :2], targets[1, :2], reduction="none"),
            ]
        ).mean()
        for n in range(2)
    ]
    assert torch.allclose(per_model_loss(logits, targets), torch.stack(expected))


def _free_follows_teacher(data: dict) -> None:
    """Free-running equals teacher-forced on every step up to and including teacher-forced's first error."""
    for row in data["sequences"]:
        teacher, free = row["procedures"]["teacher"], row["procedures"]["free"]
        d = teacher["first_divergence"]
        upto = len(teacher["output"]) if d is None else d + 1
        assert free["output"][:upto] == teacher["output"][:upto], row
        assert d is None or free["first_divergence"] is None or free["first_divergence"] >= d


def test_compare_on_a_text_runs_end_to_end(runner):
    from seqdiag.cli import app

    overrides = ["sequence.text=0110100110010110", *SMALL, "train.steps=300"]
    result = runner.invoke(app, ["compare", *_set(overrides), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"]["sequences"] == 1 and data["task"]["source"].startswith("text")
    assert data["modes"]["teacher"]["targets"] == "0110100110010110S"
    _free_follows_teacher(data)


def _words(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("tea\nsun\nrose\nmoon\nsky\n")
    return path


def test_compare_on_a_file_shows_one_row_per_sequence_and_the_one_that_goes_wrong_first(runner, tmp_path):
    from seqdiag.cli import app

    overrides = [f"sequence.file={_words(tmp_path)}", "sample.prompt=1", *SMALL, "train.steps=60"]
    result = runner.invoke(app, ["compare", *_set(overrides), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["text"] for r in data["sequences"]] == ["tea", "sun", "rose", "moon", "sky"]
    assert data["task"]["marker"] == "S" and data["task"]["prompt"] == 1
    totals = data["totals"]["free"]
    assert totals["judged"] == sum(len(w) for w in ["tea", "sun", "rose", "moon", "sky"]) + 5 - 5
    assert totals["right"] == sum(r["procedures"]["free"]["correct"] for r in data["sequences"])
    shown = data["task"]["shown"]
    assert data["modes"]["teacher"]["targets"] == data["sequences"][shown]["text"] + "S"
    _free_follows_teacher(data)
    table = runner.invoke(app, ["compare", *_set(overrides), "--show", "3"])
    assert table.exit_code == 0, table.output
    assert "Per sequence" in table.stdout and "Per position: sequence 3 ('moon')" in table.stdout
    bad = runner.invoke(app, ["compare", *_set(overrides), "--show", "5"])
    assert bad.exit_code == 2 and "--show 5: the task has 5 sequences" in bad.stderr


def test_the_names_preset_runs_briefly(runner):
    from seqdiag.cli import app

    result = runner.invoke(app, ["compare", "--config", "names", "--set", "train.steps=200", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"]["sequences"] == 20 and data["task"]["marker"] == "^"
    _free_follows_teacher(data)


@pytest.mark.slow
def test_the_names_preset_learns_every_name_free_running(runner):
    from seqdiag.cli import app

    result = runner.invoke(app, ["compare", "--config", "names", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    _free_follows_teacher(data)
    assert data["totals"]["free"]["sequences_all_right"] == 20


def test_sweep_works_on_a_file(runner, tmp_path):
    from seqdiag.cli import app

    overrides = [f"sequence.file={_words(tmp_path)}", "sample.prompt=1", *SMALL, "train.steps=40"]
    result = runner.invoke(app, ["sweep", "--seeds", "3", *_set(overrides), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rates"]["teacher"]["seeds"] == 3
    assert "\n" in data["targets"]  # every sequence's targets, joined


def test_task_from_config_names_its_source():
    from seqdiag.config import SequenceConfig

    assert task_from_config(SequenceConfig()).source == "pattern '01' x 30"


def test_sample_judges_only_what_follows_the_prompt_and_says_which_sequence_it_shows(runner, tmp_path):
    import json

    from seqdiag.cli import app

    (tmp_path / "w.txt").write_text("hello\nworld\nhelp\n")
    run = tmp_path / "run"
    task = ["--set", f"sequence.file={tmp_path / 'w.txt'}", "--set", "sample.prompt=2", "--set", "train.steps=30"]
    assert runner.invoke(app, ["train", *task, "--out", str(run)]).exit_code == 0
    text = runner.invoke(app, ["sample", "--run", str(run), "--mode", "free"], env={"COLUMNS": "100"}).stdout
    data = json.loads(runner.invoke(app, ["sample", "--run", str(run), "--mode", "free", "--json"]).stdout)
    right = round(data["accuracy"] * 4)  # 'hello' + end: 6 targets, 2 given, 4 judged
    assert f"right {right}/4 (after the 2 given" in text
    wrong = next(line for line in text.splitlines() if line.startswith("wrong"))
    assert wrong[len("wrong      ") :].startswith("··")  # the given steps are marked given, never wrong
    assert "sequence 0 of 3 shown" in text
