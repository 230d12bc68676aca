"""`seqdiag.resume`: what a resume accepts and refuses, the threads and engine it continues with, and training
into a run directory (stop, save, fallback), tested on the core alone, without the CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from observers import Recorder

from seqdiag.config import load_config
from seqdiag.errors import RunFailure, SeqdiagError
from seqdiag.resume import check_resumable, open_resume, resume_engine, resume_threads, train_into
from seqdiag.rundir import load_run, save_run
from seqdiag.session import Session
from seqdiag.train import train


def _stop_after(k: int):
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > k

    return should_stop


@pytest.mark.parametrize(
    ("recorded", "asked", "cpus", "threads", "warning"),
    [
        (None, None, 4, None, "does not record its thread count"),
        (None, 2, 4, None, None),
        (2, None, 4, 2, None),
        (8, None, 2, 2, "trained with 8 threads, but 2 CPUs are available; resuming with 2"),
        (2, 1, 4, None, "--threads 1, but the run was trained with 2"),
        (2, 2, 4, None, None),
    ],
)
def test_resume_threads(recorded, asked, cpus, threads, warning):
    use, said = resume_threads(recorded, asked, cpus)
    assert use == threads
    assert (said is None) if warning is None else (warning in said and said.startswith("warning: "))


def test_resume_engine_is_the_runs_where_it_can_run():
    assert resume_engine("auto", "torch", numba_available=False) == "torch"
    assert resume_engine("auto", "numba", numba_available=True) == "numba"
    assert resume_engine("auto", "numba", numba_available=False) == "auto"
    assert resume_engine("torch", "numba", numba_available=True) == "torch"  # asked for: kept


def test_a_stopped_or_complete_run_is_refused(trained_tiny, tmp_path):
    check_resumable(dataclasses.replace(trained_tiny, steps_done=10), tmp_path)
    with pytest.raises(SeqdiagError, match="already complete \\(150 steps\\); nothing to resume"):
        check_resumable(trained_tiny, tmp_path)
    stopped = dataclasses.replace(trained_tiny, steps_done=10, stopped="loss is NaN at step 11")
    with pytest.raises(SeqdiagError, match="stopped by a numerical fault \\(loss is NaN at step 11\\)"):
        check_resumable(stopped, tmp_path)


def test_open_resume_then_train_into_equals_a_run_never_stopped(tmp_path, tiny_config):
    partial = train(tiny_config, should_stop=_stop_after(61), threads=1)
    run = save_run(partial, tmp_path / "run")
    recorder = Recorder()
    session = Session("cpu", observer=recorder)
    plan = open_resume(run, session)
    assert (plan.previous.steps_done, plan.steps_remaining, plan.engine) == (61, 89, "torch")
    assert plan.warnings == () and recorder.warnings == []
    done = train_into(plan.config, run, session, session.engine(plan.engine, plan.config), True, plan.previous)
    assert done.signum is None and not done.result.interrupted
    assert "training steps 61..150" in recorder.notes[-1]
    reference = train_into(tiny_config, tmp_path / "reference", session, "torch")
    for name in ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "resume.safetensors"):
        assert (run / name).read_bytes() == (reference.target / name).read_bytes(), name


def test_a_numerical_fault_saves_the_last_good_state_only_where_no_run_is(tmp_path):
    config = load_config(str(Path(__file__).parent / "configs" / "too-large-lr.toml"))
    session = Session("cpu", threads=1)
    with pytest.raises(RunFailure, match="marked stopped"):
        train_into(config, tmp_path / "new", session, "torch")
    assert load_run(tmp_path / "new").stopped
    before = {p.name: p.read_bytes() for p in (tmp_path / "new").iterdir()}
    with pytest.raises(RunFailure, match="left unchanged"):
        train_into(config, tmp_path / "new", session, "torch", force=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "new").iterdir()} == before
    with pytest.raises(SeqdiagError, match="stopped by a numerical fault"):
        open_resume(tmp_path / "new", session)
