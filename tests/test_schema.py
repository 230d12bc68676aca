"""Every command's real --json output validates against the JSON Schema shipped in the package."""

import json

import pytest
from jsonschema import Draft202012Validator

from seqdiag.cli import app
from seqdiag.schema import SCHEMA_VERSION, load_schema

SCHEMA = load_schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def _validate(data: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10])


def _json_of(runner, args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema_version"] == SCHEMA_VERSION
    return data


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["x-schema-version"] == SCHEMA_VERSION
    assert SCHEMA["$defs"]["version"]["const"] == SCHEMA_VERSION


def test_every_command_is_documented():
    from seqdiag.cli import app as cli

    documented = set(SCHEMA["properties"]["command"]["enum"])
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}
    assert commands <= documented, f"commands without a schema definition: {sorted(commands - documented)}"


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    from conftest import TINY
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("schema") / "run"
    data = _json_of(CliRunner(), ["train", "--out", str(run), *_set(TINY)])
    return run, data


def test_train_json_validates(saved_run):
    _validate(saved_run[1])
    assert saved_run[1]["command"] == "train"


@pytest.mark.parametrize("mode", ["free", "zeros"])
def test_sample_json_validates(runner, saved_run, mode):
    data = _json_of(runner, ["sample", "--run", str(saved_run[0]), "--mode", mode])
    _validate(data)
    assert data["command"] == "sample" and data["steps"][0]["hidden"]


def test_compare_json_validates(runner, saved_run):
    _validate(_json_of(runner, ["compare", "--run", str(saved_run[0])]))


def test_compare_with_every_depth_section_validates(runner, tiny_overrides):
    args = ["compare", "--train", "teacher,zeros", "--rollouts", "8", "--inject", "3", *_set(tiny_overrides)]
    data = _json_of(runner, args)
    _validate(data)
    assert {"matrix", "rollouts", "recovery", "drift", "stability"} <= set(data)


def test_sweep_json_validates(runner, tiny_overrides):
    data = _json_of(runner, ["sweep", "--seeds", "3", "--train", "teacher,zeros", *_set(tiny_overrides)])
    _validate(data)
    assert data["command"] == "sweep" and set(data["policies"]) == {"teacher", "zeros"}


def test_sweep_grid_json_validates(runner, tiny_overrides, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"model.hidden_size" = [4, 8]\n\n[sweep]\nseeds = 2\n')
    data = _json_of(runner, ["sweep", "--grid", str(grid), *_set(tiny_overrides)])
    _validate(data)
    assert data["command"] == "sweep-grid" and len(data["cells"]) == 2


def test_presets_json_validates(runner):
    _validate(_json_of(runner, ["presets"]))


def test_plot_json_validates(runner, saved_run, tmp_path):
    pytest.importorskip("matplotlib")
    _validate(_json_of(runner, ["plot", str(saved_run[0]), "--out", str(tmp_path / "figs")]))


def test_the_schema_rejects_what_it_documents_as_required(runner, saved_run):
    data = _json_of(runner, ["sample", "--run", str(saved_run[0])])
    for broken in (
        {k: v for k, v in data.items() if k != "steps"},
        {**data, "schema_version": SCHEMA_VERSION + 1},
        {**data, "first_divergence": "step 3"},
        {**data, "command": "nosuch"},
    ):
        assert list(VALIDATOR.iter_errors(broken))


def test_measurements_written_as_null_still_validate(runner, saved_run):
    """--json writes NaN/infinity as null (with a warning): measured values may be null, config values may not."""
    data = _json_of(runner, ["sample", "--run", str(saved_run[0])])
    step = {**data["steps"][0], "p_target": None, "entropy": None, "hidden": [None] * len(data["steps"][0]["hidden"])}
    _validate({**data, "steps": [step, *data["steps"][1:]]})
    bad_config = {**data, "config": {**data["config"], "train": {**data["config"]["train"], "lr": None}}}
    assert list(VALIDATOR.iter_errors(bad_config))


def test_check_json_validates(runner):
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples"
    for name in ("onehot_zeros.py", "word_gru_ok.py"):  # zero-vector inputs (null) and word symbols
        data = _json_of(runner, ["check", str(examples / name)])
        _validate(data)
        assert data["command"] == "check" and data["findings"]
