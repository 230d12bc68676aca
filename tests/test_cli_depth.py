"""compare's depth sections through the CLI: --train (policy matrix), --rollouts, --inject, and their JSON."""

import json

import pytest

from seqdiag import procedures
from seqdiag.cli import app
from seqdiag.config import preset_names


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_compare_json_carries_every_depth_section(runner, tiny_overrides):
    result = runner.invoke(
        app,
        [
            "compare",
            "--json",
            "--train",
            "teacher,zeros",
            "--rollouts",
            "8",
            "--temperature",
            "1",
            *_set(tiny_overrides),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"matrix", "drift", "reliance", "recovery", "stability", "rollouts"} <= set(data)
    cells = data["matrix"]
    assert len(cells) == 2 * len(procedures.COLUMNS)
    for cell in cells:
        assert {"train", "sample", "accuracy", "end_symbol", "first_divergence"} <= set(cell)
    assert {(c["train"], c["sample"]) for c in cells} == {
        (t, s) for t in ("teacher", "zeros") for s in procedures.COLUMNS
    }
    assert data["config"]["train"]["policy"] == "teacher"  # the first policy gets the full report
    assert {p["mode"] for p in data["drift"]["procedures"]} == set(procedures.NAMES) - {"teacher"}
    assert data["recovery"]["injections"][0]["step"] == 3
    assert data["rollouts"]["rollouts"] == 8
    assert {"other_symbol_share", "zero_input_share", "state_reset_share"} <= set(data["reliance"])
    assert "policy-matrix" in {f["id"] for f in data["findings"]}


def test_compare_without_train_has_no_matrix_but_the_other_sections(runner, tiny_overrides):
    result = runner.invoke(app, ["compare", "--json", "--inject", "2,5", *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "matrix" not in data and "rollouts" not in data
    assert [i["step"] for i in data["recovery"]["injections"]] == [2, 5]
    assert {"error-recovery", "hidden-drift", "counting"} <= {f["id"] for f in data["findings"]}


def test_compare_renders_the_depth_tables(runner, tiny_overrides):
    result = runner.invoke(app, ["compare", "--full", "--train", "teacher,zeros", *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    for part in ("Policy matrix", "Hidden-state drift", "Input reliance", "Error recovery", "Counting", "Findings"):
        assert part in result.stdout
    assert "trained zeros" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--train", "teacher,beam"], "unknown policy 'beam'; valid: teacher, free, zeros, scheduled"),
        (["--train", ","], "name at least one policy"),
        (["--inject", "3,x"], "expected steps like 3,10,20"),
        (["--inject", "0"], "steps start at 1"),
        (["--train", "teacher", "--run", "somewhere"], "drop --run or drop --train"),
    ],
)
def test_depth_option_errors_are_one_line_exit_2(runner, args, needle):
    result = runner.invoke(app, ["compare", *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_runs_through_compare_with_the_matrix(runner, name):
    args = ["compare", "--config", name, "--set", "train.steps=2", "--set", "train.snapshot_every=2"]
    result = runner.invoke(app, [*args, "--train", "teacher,free,zeros,scheduled", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["matrix"]) == 4 * len(procedures.COLUMNS)
    assert data["drift"]["procedures"] and data["recovery"]["injections"]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("45", "step 45 is past the last pattern step 7 (sequence.length = 8)"),
        ("8", "step 8 is past the last pattern step 7"),
        ("3,,5", "expected steps like 3,10,20"),
        ("", "expected steps like 3,10,20"),
    ],
)
def test_inject_steps_outside_the_sequence_are_refused(runner, tiny_overrides, value, needle):
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    result = runner.invoke(app, ["compare", "--inject", value, *args])
    assert result.exit_code == 2
    assert needle in result.output


def test_default_injections_fit_a_short_sequence(runner, tiny_overrides):
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    result = runner.invoke(app, ["compare", "--json", *args, "--set", "train.steps=2"])
    assert result.exit_code == 0, result.output
    steps = [i["step"] for i in json.loads(result.stdout)["recovery"]["injections"]]
    assert steps == [3]  # 10 and 20 lie past a sequence of 8


def test_depth_sections_cover_every_sequence_of_a_file_or_say_which_they_measured(runner):
    import jsonschema

    from seqdiag.schema import load_schema

    args = ["compare", "--config", "names", "--set", "train.steps=30", "--set", "train.snapshot_every=10"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, load_schema())
    texts = [row["text"] for row in data["sequences"]]
    shown = data["task"]["shown"]
    assert len(texts) == data["task"]["sequences"] > 1
    # Reliance: every sequence's teacher-forced steps after the first, summed.
    assert data["reliance"]["sequences"] == len(texts)
    assert data["reliance"]["steps"] == sum(len(t) for t in texts)
    # Recovery: each sequence, injected only at the requested steps that fall inside it.
    per = data["recovery_sequences"]
    assert [r["sequence"] for r in per] == list(range(len(texts)))
    for r, text in zip(per, texts, strict=True):
        assert all(1 < i["step"] <= len(text) - 1 for i in r["injections"])  # after the prompt, before the end
    # Measured on one sequence: they say which.
    assert data["drift"]["sequence"] == data["recovery"]["sequence"] == data["stability"]["sequence"] == shown

    full = runner.invoke(app, [*args, "--full"], env={"COLUMNS": "200"})
    assert full.exit_code == 0, full.output
    text = " ".join(full.stdout.split())  # captions fold
    assert f"Hidden-state drift from the teacher-forced trajectory · sequence {shown} ({texts[shown]!r})" in text
    assert f"in each of {len(texts)} sequences" in text
    assert f"summed over all {len(texts)} sequences" in text
    assert f"end symbol predicted at: sequence {shown}" in text
