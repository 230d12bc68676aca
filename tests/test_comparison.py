"""`seqdiag.comparison`: compare as one typed core call, without Typer, and the same report the CLI prints."""

from __future__ import annotations

import json

import pytest
from observers import Recorder

from seqdiag.cli import app
from seqdiag.comparison import CompareOptions, check_compare, check_injection_steps, compare
from seqdiag.config import load_config
from seqdiag.errors import SeqdiagError
from seqdiag.rundir import load_run
from seqdiag.session import Session


def _set(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def test_compare_with_the_policy_matrix_is_the_report_the_cli_prints(runner, tiny_overrides):
    recorder = Recorder()
    options = CompareOptions(config=load_config(None, tiny_overrides), policies=("teacher", "zeros"), engine="torch")
    report = compare(options, Session("cpu", threads=1, observer=recorder))
    assert [label for _, label in recorder.trainings] == ["training teacher (1/2)", "training zeros (2/2)"]
    assert report.matrix is not None and report.matrix.policies == ["teacher", "zeros"]
    args = ["compare", "--train", "teacher,zeros", "--engine", "torch", "--json", *_set(tiny_overrides)]
    cli = runner.invoke(app, args)
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.stdout)
    assert json.loads(json.dumps(report.to_json())) == printed


def test_the_first_policy_is_the_one_trained_from_the_config(tiny_overrides):
    recorder = Recorder()
    options = CompareOptions(config=load_config(None, tiny_overrides), policies=("zeros", "teacher"), engine="torch")
    report = compare(options, Session(observer=recorder))
    assert report.config.train.policy == "zeros"
    assert [label for _, label in recorder.trainings] == ["training zeros (1/2)", "training teacher (2/2)"]


def test_a_loaded_run_takes_new_decoding_and_is_saved_nowhere(trained_tiny, tmp_path):
    from seqdiag.rundir import save_run

    run = save_run(trained_tiny, tmp_path / "run")
    options = CompareOptions(run=run, sample_overrides=("sample.temperature=1",), rollouts=4)
    report = compare(options, Session())
    assert report.config.sample.temperature == 1 and report.run.source == str(run)
    assert report.rollouts is not None


def test_out_saves_the_trained_run(tiny_overrides, tmp_path):
    recorder = Recorder()
    out = tmp_path / "saved"
    report = compare(CompareOptions(config=load_config(None, tiny_overrides), out=out), Session(observer=recorder))
    assert load_run(out).config == report.config
    assert recorder.trainings == [(150, "training")]


def test_options_that_cannot_work_are_refused_before_training(tiny_overrides, trained_tiny, tmp_path):
    config = load_config(None, tiny_overrides)  # sequence.length = 8
    with pytest.raises(ValueError, match="not both"):
        CompareOptions(config=config, run=tmp_path)
    with pytest.raises(ValueError, match="give a config"):
        CompareOptions()
    with pytest.raises(SeqdiagError, match="--train trains every policy from a config"):
        CompareOptions(run=tmp_path, policies=("teacher",))
    with pytest.raises(SeqdiagError, match="unknown training policy 'nope'"):
        CompareOptions(config=config, policies=("nope",))
    with pytest.raises(SeqdiagError, match="step 45 is past the last pattern step 7"):
        check_compare(CompareOptions(config=config, inject=(45,)))
    with pytest.raises(SeqdiagError, match="--rollouts 3 at temperature 0"):
        check_compare(CompareOptions(config=config, rollouts=3))
    (tmp_path / "file").write_text("x")
    with pytest.raises(SeqdiagError):
        check_compare(CompareOptions(config=config, out=tmp_path / "file"))
    recorder = Recorder()
    with pytest.raises(SeqdiagError, match="step 45"):
        compare(CompareOptions(config=config, inject=(45,)), Session(observer=recorder))
    assert recorder.trainings == []  # refused before any training


def test_injection_steps_are_the_users_checked_or_the_defaults_that_fit():
    assert check_injection_steps(None, 30) == [3, 10, 20]
    assert check_injection_steps(None, 8) == [3]
    assert check_injection_steps(None, 2) == [1]
    assert check_injection_steps((5, 2, 5), 8) == [2, 5]
    with pytest.raises(SeqdiagError, match="steps start at 1"):
        check_injection_steps((0, 3), 8)
    with pytest.raises(SeqdiagError, match=r"--inject '3,8': step 8 is past the last pattern step 7"):
        check_injection_steps((8, 3), 8)
