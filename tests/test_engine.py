"""The engine choice, the kernel cache (where it lives, what it trusts) and the numba engine's runs:
deterministic, independent of threads, resumable bit for bit, and leaving torch's threads alone."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch

from seqdiag import engine
from seqdiag.config import load_config
from seqdiag.errors import SeqdiagError
from seqdiag.train import train

SHORT = ["sequence.length=12", "train.steps=60", "train.snapshot_every=20"]


def test_torch_is_taken_when_asked_and_numba_only_where_it_covers_the_config(monkeypatch):
    assert engine.resolve_engine("torch", "lstm", "hard_sigmoid", "cpu").name == "torch"
    with pytest.raises(SeqdiagError, match="--engine 'fast'"):
        engine.resolve_engine("fast", "lstm", "hard_sigmoid", "cpu")
    monkeypatch.setattr(engine, "KERNEL_CELLS", ("lstm",))  # a cell the kernel would not cover
    gru = engine.resolve_engine("auto", "gru", "sigmoid", "cpu")
    assert gru.name == "torch" and "model.cell" in (gru.reason or "") and "'gru'" in gru.describe()
    monkeypatch.undo()
    cuda = engine.resolve_engine("numba", "lstm", "sigmoid", "cuda")
    assert cuda.name == "torch" and "--device cuda" in (cuda.reason or "")
    monkeypatch.setattr(engine, "numba_installed", lambda: False)
    missing = engine.resolve_engine("auto", "lstm", "sigmoid", "cpu")
    assert missing.name == "torch" and "pip install numba" in (missing.reason or "")
    with pytest.raises(SeqdiagError, match="numba is not installed"):
        engine.resolve_engine("numba", "lstm", "sigmoid", "cpu")


def test_the_kernel_covers_every_cell_and_gate_on_the_cpu():
    pytest.importorskip("numba")
    from seqdiag.config import CELLS, GATES

    for cell in CELLS:
        for gate in GATES:
            assert engine.kernel_gap(cell, gate, "cpu") is None, (cell, gate)
    gap = engine.kernel_gap("lstm", "relu", "cpu")  # a gate it would not know
    assert gap is not None and "model.gate" in gap


def test_the_manifest_says_which_cell_and_float_type_are_compiled(monkeypatch, tmp_path):
    pytest.importorskip("numba")
    monkeypatch.setattr(engine, "kernel_cache_dir", lambda: tmp_path)
    assert not engine.kernels_cached("float32", "gru")  # no manifest
    (tmp_path / engine.MANIFEST).write_text(json.dumps({"files": {}, "compiled": ["gru/float64", "lstm/float32"]}))
    assert engine.kernels_cached("float64", "gru") and engine.kernels_cached("float32", "lstm")
    assert not engine.kernels_cached("float32", "gru") and not engine.kernels_cached("float64", "rnn")
    (tmp_path / engine.MANIFEST).write_text(json.dumps({"files": {}, "dtypes": ["float32"]}))  # an older layout
    assert not engine.kernels_cached("float32", "lstm")


def test_the_cache_lives_in_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(engine.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert engine.cache_root() == tmp_path / "xdg" / "seqdiag"
    monkeypatch.setenv(engine.CACHE_ENV, str(tmp_path / "mine"))
    assert engine.cache_root() == tmp_path / "mine"


pytest.importorskip("numba")


def test_auto_takes_numba_whether_or_not_the_kernels_are_cached(monkeypatch, tmp_path):
    engine.prepare_kernels("float32")
    assert engine.kernels_cached("float32")
    assert engine.resolve_engine("auto", "lstm", "hard_sigmoid", "cpu") == engine.EngineChoice("numba", "auto")
    monkeypatch.setenv(engine.CACHE_ENV, str(tmp_path / "cold"))
    assert not engine.kernels_cached("float32")
    # A cold cache is compiled first (by the caller, in the foreground): the first run's engine is every run's.
    assert engine.resolve_engine("auto", "lstm", "hard_sigmoid", "cpu") == engine.EngineChoice("numba", "auto")
    assert not (tmp_path / "cold").exists()  # resolving compiles nothing and starts nothing


def test_an_unwritable_cache_is_one_clear_error(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(engine.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(engine, "_loaded", {})
    with pytest.raises(engine.KernelCacheError, match=f"cannot be written .*\\${engine.CACHE_ENV}"):
        engine.prepare_kernels("float32")


def test_a_changed_or_unvouched_cache_is_discarded(tmp_path):
    status = engine.prepare_kernels("float32")
    copy = tmp_path / "cache"
    shutil.copytree(status.folder, copy)
    assert engine.check_cache(copy) is None  # as written: trusted
    files = [p for p in copy.rglob("*.nbc")]
    assert files, "numba wrote no cache files"
    data = bytearray(files[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    files[0].write_bytes(bytes(data))
    message = engine.check_cache(copy)
    assert message is not None and "differ from the manifest" in message and not copy.exists()

    shutil.copytree(status.folder, copy)
    (copy / engine.MANIFEST).unlink()
    assert "no manifest" in (engine.check_cache(copy) or "") and not copy.exists()

    shutil.copytree(status.folder, copy)
    (copy / "planted.nbi").write_bytes(b"not numba's")
    assert engine.check_cache(copy) is not None and not copy.exists()


def test_the_manifest_lists_every_cache_file():
    folder = engine.prepare_kernels("float32").folder
    manifest = json.loads((folder / engine.MANIFEST).read_text())
    assert "lstm/float32" in manifest["compiled"]
    assert set(manifest["files"]) == {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {
        engine.MANIFEST
    }


def test_a_kernel_call_leaves_torchs_threads_alone():
    before = torch.get_num_threads()
    config = load_config(None, SHORT)
    train(config, seeds=range(70), engine="numba", threads=2)
    assert torch.get_num_threads() == before


def test_same_config_and_seed_give_identical_runs_whatever_the_threads():
    config = load_config(None, [*SHORT, "train.policy=scheduled", "train.schedule_k=20"])
    one = train(config, seeds=range(70), engine="numba", threads=1)
    again = train(config, seeds=range(70), engine="numba", threads=1)
    two = train(config, seeds=range(70), engine="numba", threads=2)
    for other in (again, two):
        assert other.losses == one.losses
        assert [h[-1] for h in other.histories] == [h[-1] for h in one.histories]
        for mine, theirs in zip(other.model.parameters(), one.model.parameters(), strict=True):
            assert torch.equal(mine, theirs)


@pytest.mark.parametrize("extra", [[], ["train.optimizer=adam", "train.policy=scheduled", "train.schedule_k=20"]])
def test_an_interrupted_numba_run_resumes_bit_identically(tmp_path, extra):
    from seqdiag.rundir import load_run, save_run

    config = load_config(None, [*SHORT, *extra])
    asked = 0

    def stop_after_two_stretches() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    partial = train(config, engine="numba", should_stop=stop_after_two_stretches)
    assert partial.interrupted and partial.steps_done == 40  # two stretches of snapshot_every steps
    save_run(partial, tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    assert loaded.engine == "numba"
    resumed = train(config, engine="numba", resume_from=loaded)
    save_run(resumed, tmp_path / "resumed")
    save_run(train(config, engine="numba"), tmp_path / "reference")
    for name in ("weights.safetensors", "history.jsonl", "losses.json", "resume.safetensors"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    assert json.loads((tmp_path / "reference" / "summary.json").read_text())["runtime"]["engine"] == "numba"


def test_a_non_finite_loss_stops_at_the_step_with_the_last_good_weights():
    config = load_config(None, [*SHORT, "train.lr=1e38", "train.optimizer=sgd"])
    from seqdiag.errors import RunFailure

    with pytest.raises(RunFailure) as torch_caught:
        train(config, seeds=range(40), engine="torch")
    with pytest.raises(RunFailure) as numba_caught:
        train(config, seeds=range(40), engine="numba")
    mine, theirs = numba_caught.value.partial, torch_caught.value.partial
    step = re.compile(r"at step \d+: train.lr = 1e\+38")  # inf or nan: the overflow takes another path per engine
    assert step.search(str(numba_caught.value)).group() == step.search(str(torch_caught.value)).group()
    if theirs is None:
        assert mine is None
        return
    assert mine.steps_done == theirs.steps_done and mine.losses == [v[: mine.steps_done] for v in theirs.losses]
    assert all(bool(torch.isfinite(p).all()) for p in mine.model.parameters())


@pytest.mark.slow
def test_outcome_rates_over_256_seeds_agree_between_engines():
    """Per seed the engines part ways after ~100 steps (hard_sigmoid's kinks amplify float32 rounding), so they
    agree in distribution: each engine's share right at the end lies inside the other's 95% interval."""
    from seqdiag.sweep import run_sweep

    config = load_config(None, [])  # the 2015 setup, 5000 steps
    by_torch = run_sweep(config, 256, engine="torch").rates
    by_numba = run_sweep(config, 256, engine="numba").rates
    for mode, theirs in by_torch.items():
        mine = by_numba[mode]
        assert mine.ci95[0] <= theirs.share <= mine.ci95[1], (mode, mine, theirs)
        assert theirs.ci95[0] <= mine.share <= theirs.ci95[1], (mode, mine, theirs)


def test_snapshots_spell_and_judge_each_model_as_a_plain_loop_would():
    import numpy as np

    from seqdiag.sequence import ToySequence
    from seqdiag.train import _spell, snapshots_from

    sequence = ToySequence.from_config(load_config(None).sequence)
    symbols, targets = sequence.vocabulary.symbols, sequence.targets.tolist()
    rng = np.random.default_rng(0)
    base = rng.integers(0, len(symbols), (4, len(targets)))
    rows = base[rng.integers(0, 4, 50)]  # 50 models, 4 distinct outputs
    short = rows[:, :-1]  # a procedure that stops one step short (zeros)
    snaps = snapshots_from({"teacher": rows, "zeros": short}, sequence, 7, [float(i) for i in range(50)])
    assert len(snaps) == 50
    for i, snap in enumerate(snaps):
        assert (snap.step, snap.loss) == (7, float(i))
        for mode, got in (("teacher", rows[i]), ("zeros", short[i])):
            assert snap.outputs[mode] == "".join(symbols[s] for s in got)
            hits = sum(p == t for p, t in zip(got.tolist(), targets, strict=False))
            assert snap.accuracy[mode] == hits / len(targets)
    same = [s.outputs["teacher"] for s in snaps if s.outputs["teacher"] == snaps[0].outputs["teacher"]]
    assert all(text is same[0] for text in same)  # equal outputs share one string
    assert _spell(base, ("ab", "c", "d", "e")[: len(symbols)]) == [
        "".join(("ab", "c", "d", "e")[s] for s in row) for row in base.tolist()
    ]
