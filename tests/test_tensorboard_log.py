"""train --tensorboard: an on_step adapter writes loss, accuracy per procedure and the outputs as text."""

import sys

import pytest

from seqdiag.cli import app
from seqdiag.history import Snapshot
from seqdiag.train import TrainProgress


def _events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_logger_puts_loss_and_checkpoints_at_the_updates_behind_them(tmp_path):
    pytest.importorskip("tensorboard")
    from seqdiag.tensorboard_log import TensorBoardLogger

    snap0 = Snapshot(0, 1.0, {"free": "00", "zeros": "00"}, {"free": 0.5, "zeros": 0.5})
    snap2 = Snapshot(2, 0.5, {"free": "01", "zeros": "00"}, {"free": 1.0, "zeros": 0.5})
    with TensorBoardLogger(tmp_path, targets="01") as logger:
        logger(TrainProgress(1, 2, 1.0, snap0))  # after update 1: the loss measured before it
        logger(TrainProgress(2, 2, 0.8, snap0))
        logger(TrainProgress(2, 2, 0.5, snap2))  # the trainer's closing call: the final model
    events = _events(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(0, 1.0), (1, pytest.approx(0.8)), (2, 0.5)]
    assert [(e.step, e.value) for e in events.Scalars("accuracy/free")] == [(0, 0.5), (2, 1.0)]
    assert {"outputs/free/text_summary", "outputs/zeros/text_summary", "targets/text_summary"} <= set(
        events.Tags()["tensors"]
    )
    texts = [e.tensor_proto.string_val[0].decode() for e in events.Tensors("outputs/free/text_summary")]
    assert texts == ["`00`", "`01`"]


def test_a_stretch_of_steps_logs_each_step_loss(tmp_path):
    pytest.importorskip("tensorboard")
    from seqdiag.tensorboard_log import TensorBoardLogger

    with TensorBoardLogger(tmp_path) as logger:
        logger(TrainProgress(3, 4, 0.7, None, (1.0, 0.9, 0.7)))  # one report for updates 1-3 (numba's stretches)
        logger(TrainProgress(4, 4, 0.6, None, (0.6,)))
        logger(TrainProgress(4, 4, 0.5, None))  # the final model
    values = [(e.step, e.value) for e in _events(tmp_path).Scalars("loss")]
    assert values == [(0, 1.0), (1, pytest.approx(0.9)), (2, pytest.approx(0.7)), (3, pytest.approx(0.6)), (4, 0.5)]


@pytest.mark.parametrize("engine", ["torch", "numba"])
def test_train_tensorboard_writes_event_files(runner, tiny_overrides, tmp_path, engine):
    pytest.importorskip("tensorboard")
    if engine == "numba":
        pytest.importorskip("numba")
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    result = runner.invoke(
        app,
        ["train", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "--json", "--engine", engine]
        + args,
    )
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    events = _events(tmp_path / "tb")
    assert len(events.Scalars("loss")) == 151  # 150 steps, and the final model
    assert [e.step for e in events.Scalars("loss")] == list(range(151))
    assert [e.step for e in events.Scalars("accuracy/teacher")] == [0, 25, 50, 75, 100, 125, 150]


def test_tensorboard_missing_says_how_to_install_it(runner, tiny_overrides, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    args = [arg for o in tiny_overrides for arg in ("--set", o)]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), *args])
    assert result.exit_code == 2
    assert "pip install -e '.[tensorboard]'" in result.output
    assert "seqdiag[" not in result.output  # the bare name on the package index is another project
    assert not (tmp_path / "run").exists()
