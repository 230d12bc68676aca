import json

import pytest
import torch

from seqdiag.errors import RunError
from seqdiag.rundir import load_run, save_run


def test_save_and_load_round_trip(trained_tiny, tmp_path):
    out = save_run(trained_tiny, tmp_path / "run")
    loaded = load_run(out)
    assert loaded.config == trained_tiny.config
    for (name, a), (_, b) in zip(
        loaded.model.state_dict().items(), trained_tiny.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert loaded.history == trained_tiny.history
    assert loaded.losses[0] == trained_tiny.losses[0]
    assert loaded.steps_done == trained_tiny.steps_done


def test_refuses_to_overwrite_without_force(trained_tiny, tmp_path):
    out = save_run(trained_tiny, tmp_path / "run")
    with pytest.raises(RunError, match="already exists"):
        save_run(trained_tiny, out)
    save_run(trained_tiny, out, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_corrupted_runs_name_the_file(trained_tiny, tmp_path):
    out = save_run(trained_tiny, tmp_path / "run")
    (out / "weights.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(RunError, match="weights.safetensors: not a readable safetensors file"):
        load_run(out)
    out = save_run(trained_tiny, tmp_path / "run2")
    (out / "history.jsonl").write_text("{not json\n")
    with pytest.raises(RunError, match="history.jsonl: line 1"):
        load_run(out)
    out = save_run(trained_tiny, tmp_path / "run3")
    summary = json.loads((out / "summary.json").read_text())
    summary["run_format"] = 99
    (out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunError, match="run_format = 99"):
        load_run(out)


def test_shape_mismatch_between_config_and_weights(trained_tiny, tmp_path):
    out = save_run(trained_tiny, tmp_path / "run")
    text = (out / "config.toml").read_text().replace("hidden_size = 8", "hidden_size = 9")
    (out / "config.toml").write_text(text)
    with pytest.raises(RunError, match="has shape"):
        load_run(out)


def test_not_a_run(tmp_path):
    with pytest.raises(RunError, match="not a seqdiag run"):
        load_run(tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(RunError, match="incomplete run, missing config.toml"):
        load_run(tmp_path)


def test_default_run_dir_keeps_the_pattern_inside_runs():
    from seqdiag.config import load_config
    from seqdiag.rundir import default_run_dir

    path = default_run_dir(load_config(None, ["sequence.pattern=../"]))
    assert path.parent.name == "runs" and ".." not in path.name and "/" not in path.name
