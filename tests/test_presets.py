"""Every preset in configs/ loads and trains a few steps through compare."""

import pytest

from seqdiag.config import load_config, preset_names
from seqdiag.report import build_compare
from seqdiag.train import train


@pytest.mark.parametrize("name", preset_names())
def test_preset_loads_and_trains_a_few_steps(name):
    config = load_config(name, ["train.steps=3", "train.snapshot_every=1"])
    result = train(config)
    assert result.steps_done == 3
    assert [s.step for s in result.history] == [0, 1, 2, 3]
    report = build_compare(result, "test")
    assert report.verdict.findings
    # zeros runs one step per symbol of the detailed sequence: no step for the end symbol
    assert len(report.traces["zeros"].steps) == len(report.traces["teacher"].targets) - 1


def test_presets_describe_each_task_by_its_source(runner):
    from seqdiag.cli import app

    result = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    names = next(line for line in result.stdout.splitlines() if line.strip().startswith("names"))
    assert "file names.txt (20 sequences)" in names and "'01'" not in names
