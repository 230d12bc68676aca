from pathlib import Path

import pytest

from seqdiag.config import (
    Config,
    ModelConfig,
    SequenceConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    describe,
    load_config,
    preset_names,
)
from seqdiag.errors import ConfigError


def test_default_is_the_2015_setup():
    c = load_config()
    assert (c.sequence.pattern, c.sequence.length, c.sequence.start_symbol) == ("01", 30, "S")
    assert (c.model.cell, c.model.gate, c.model.embed_size, c.model.hidden_size) == ("lstm", "hard_sigmoid", 10, 10)
    assert (c.train.optimizer, c.train.lr, c.train.rho, c.train.steps) == ("rmsprop", 1e-3, 0.9, 5000)
    assert c.train.policy == "teacher"


def test_original_preset_equals_default():
    assert load_config("original") == load_config()


def test_overrides_apply_in_order_and_by_field_type():
    c = load_config(None, ["train.lr=0.01", "sequence.pattern=10", "train.lr=2e-2", "seed=7"])
    assert c.train.lr == 0.02
    assert c.sequence.pattern == "10"  # a str field keeps "10" as text, not the integer 10
    assert c.seed == 7


def test_seed_option_wins_over_file_and_set():
    assert load_config("original", ["seed=3"], seed=5).seed == 5


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["sequence.pattern="], "sequence.pattern = '': must not be empty"),
        (["sequence.pattern=0S1"], "sequence.start_symbol = 'S': must not occur"),
        (["sequence.length=0"], "sequence.length = 0: must be > 0"),
        (["model.hidden_size=-3"], "model.hidden_size = -3"),
        (["model.hidden_size=100000"], "must be <= 4096"),
        (["model.cell=transformer"], "must be one of lstm, gru, rnn"),
        (["train.lr=0"], "train.lr = 0.0: must be > 0"),
        (["train.steps=1.5"], "expected int, got float"),
        (["train.lr=fast"], "cannot parse 'fast' as float"),
        (["train.policy=oracle"], "must be one of teacher, free, zeros, scheduled"),
        (["train.nope=1"], "unknown key 'train.nope'"),
        (["nope.key=1"], "unknown key 'nope.key'"),
        (["lr"], "expected section.key=value"),
        (["sample.temperature=-1"], "sample.temperature = -1.0: must be >= 0"),
        (["sample.top_k=9"], "exceeds the vocabulary size 3"),
        (["sequence.pattern=0é"], "single printable ASCII"),
        (["sequence.start_symbol=SS"], "single printable ASCII"),
    ],
)
def test_bad_values_name_key_and_value(overrides, needle):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_section_and_wrong_type_in_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\ncell = 3\n")
    with pytest.raises(ConfigError, match=r"bad.toml: model.cell = 3: expected str, got int"):
        load_config(str(bad))
    bad.write_text("[optimizer]\nlr = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section or key"):
        load_config(str(bad))


def test_malformed_toml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="no such file or preset; presets: alternating"):
        load_config(str(tmp_path / "missing.toml"))


def test_config_round_trips_through_dict():
    c = load_config("pairs", ["seed=4"])
    assert config_from_dict(c.to_dict()) == c


def test_apply_overrides_does_not_mutate_input():
    data = {"train": {"lr": 0.5}}
    apply_overrides(data, ["train.lr=0.1"])
    assert data == {"train": {"lr": 0.5}}


def test_dataclasses_validate_on_construction():
    with pytest.raises(ConfigError):
        SequenceConfig(pattern="")
    with pytest.raises(ConfigError):
        ModelConfig(gate="relu")
    with pytest.raises(ConfigError):
        TrainConfig(rho=1.0)
    with pytest.raises(ConfigError):
        Config(seed=-1)


def test_presets_ship_inside_package_and_configs_links_to_them():
    """configs/ holds links to the shipped presets (so the two cannot drift apart), one per preset."""
    repo = Path(__file__).parent.parent
    names = preset_names()
    assert {"original", "alternating", "period3", "pairs", "long"} <= set(names)
    linked = {p.name.removesuffix(".toml") for p in (repo / "configs").glob("*.toml")}
    assert linked == set(names)
    for name in names:
        link = repo / "configs" / f"{name}.toml"
        assert link.is_symlink() and link.resolve() == (repo / "seqdiag" / "presets" / f"{name}.toml").resolve()
        assert link.read_text().startswith(f"# seqdiag compare --config {name}\n")


def test_describe_names_every_section():
    line = describe(load_config())
    for part in ("seed=0", "[sequence]", "pattern='01'", "[model]", "gate='hard_sigmoid'", "[train]", "lr=0.001"):
        assert part in line


def test_describe_leaves_out_what_text_or_file_replaces():
    text = describe(load_config(None, ["sequence.text=0110"]))
    assert "text='0110'" in text and "pattern=" not in text and "length=" not in text
    names = describe(load_config("names"))
    assert "file=" in names and "pattern=" not in names and "length=" not in names


def test_errors_name_where_the_bad_value_came_from(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"^--set: train.steps = -5"):
        load_config(None, ["train.steps=-5"])
    with pytest.raises(ConfigError, match=r"^--seed: seed = -1"):
        load_config(None, [], seed=-1)
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nsteps = -5\n")
    with pytest.raises(ConfigError, match=r"bad.toml: train.steps = -5"):
        load_config(str(bad), ["train.lr=0.1"])
