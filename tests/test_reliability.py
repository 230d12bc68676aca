"""Faults, signals, hostile run directories and resource limits, each as the user meets it.

The rule: bad input exits 2 with one line; a valid run that fails exits 1 with one line; no traceback; nothing
the user had is lost or half-written. Numbered as in the reliability list of the README's promises:
saving faults (1-3), signals and concurrency (4-8), hostile or huge content (9-16), numbers and resources (17-20).
Disk-full and read-only tests use a real tmpfs where this process may mount one (root), and otherwise a
simulated ENOSPC/EROFS at the system call, so they run everywhere. Tests that start real processes and signal
them (or race them) are marked slow: CI runs them in its second pass (`.ci/run`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from run_faults import (
    KILL_BETWEEN_RENAMES,
    LONG,
    TINY,
    as_set,
    child_env,
    extra,
    fill,
    history_first,
    mount_tmpfs,
    rehash,
    sparse,
    summary_raw,
    tensor,
    then_rehash,
    write,
)
from safetensors.torch import load_file, save_file

from seqdiag.cli import app
from seqdiag.config import load_config
from seqdiag.rundir import _run_files, fallback_dir, load_run, save_run
from seqdiag.train import train

_set = as_set


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def _one_error(result, code: int, needle: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert needle in errors[0], errors[0]
    assert "Traceback" not in result.output
    return errors[0]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _popen(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    env = child_env()
    return subprocess.Popen(
        [sys.executable, "-m", "seqdiag", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, **kwargs,
    )  # fmt: skip


def _wait_for_training(proc: subprocess.Popen) -> None:
    """Read stderr up to the line printed right before step 0 (the stop handler is in place then)."""
    for _ in range(20):
        line = proc.stderr.readline()
        if "training steps" in line or not line:
            assert "training steps" in line, line
            return
    raise AssertionError("no 'training steps' line")


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def two_runs():
    """Two tiny trained results that differ (seeds 0 and 1)."""
    return [train(load_config(None, [*TINY, f"seed={seed}"])) for seed in (0, 1)]


@pytest.fixture
def saved(tmp_path, two_runs) -> Path:
    return save_run(two_runs[0], tmp_path / "run")


@contextlib.contextmanager
def _tmpfs(path: Path, size: str = "1M") -> Iterator[Path]:
    refused = mount_tmpfs(path, size)
    if refused is not None:
        pytest.skip(f"cannot mount a tmpfs here ({refused})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _disk_full_under(monkeypatch, root: Path) -> None:
    """Simulate a full disk: os.write on any file under `root` fails with ENOSPC, as the kernel would."""
    real = os.write

    def write(fd: int, data) -> int:
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            where = ""
        if where.startswith(str(root)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


# 1. Disk full while saving ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "train --force", "compare"])
def test_1_disk_full_keeps_the_old_run_and_saves_the_training_elsewhere(runner, tmp_path, monkeypatch, saved, command):
    full = tmp_path / "full"
    full.mkdir()
    out = full / "run"
    if command == "train --force":
        shutil.copytree(saved, out)
    before = _files(out) if out.exists() else None
    _disk_full_under(monkeypatch, full)
    verb, *flags = command.split()
    result = runner.invoke(
        app, [verb, *_set(TINY), "--out", str(out), *flags, *(["--json"] if verb == "compare" else [])]
    )
    line = _one_error(result, 1, "cannot save the run (No space left on device)")
    fallback = fallback_dir(out)
    try:
        assert f"saved in {fallback} instead" in line
        assert (_files(out) if out.exists() else None) == before  # the old run (or its absence) is kept
        assert _hidden(full) == []  # no partial folder, no lock file
        assert load_run(fallback).steps_done == 60  # the training is not lost
    finally:
        shutil.rmtree(fallback, ignore_errors=True)


@pytest.mark.slow
def test_1_disk_full_on_a_real_tmpfs(tmp_path):
    with _tmpfs(tmp_path / "small", "256k") as small:
        fill(small)
        proc = _popen(["train", *_set(TINY), "--out", str(small / "run")], tmp_path)
        _, err = proc.communicate(timeout=120)
        fallback = Path(err.split("saved in ", 1)[-1].split(" instead", 1)[0]) if "saved in " in err else None
        try:
            assert proc.returncode == 1, err
            assert "No space left on device" in err and "Traceback" not in err
            assert fallback is not None and load_run(fallback).steps_done == 60
            assert sorted(p.name for p in small.iterdir()) == ["filler"]
        finally:
            if fallback is not None:
                shutil.rmtree(fallback, ignore_errors=True)


# 2. A target that cannot be written is refused before training -------------------------------------------------


def _read_only_lock(monkeypatch) -> None:
    """Simulate a read-only filesystem where the lock file would be created (as root ignores modes)."""
    real = os.open

    def fake_open(path, flags, *args, **kwargs):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


@pytest.mark.parametrize("how", ["force", "resume"])
def test_2_read_only_target_is_refused_before_training(runner, tmp_path, monkeypatch, two_runs, how):
    result0 = two_runs[0]
    interrupted = train(load_config(None, [*TINY, "train.steps=60"]), should_stop=iter([False] * 10 + [True]).__next__)
    run = save_run(interrupted if how == "resume" else result0, tmp_path / "run")
    before = _files(run)
    _read_only_lock(monkeypatch)
    args = ["train", "--resume", str(run)] if how == "resume" else ["train", *_set(TINY), "--force", "--out", str(run)]
    result = runner.invoke(app, args)
    _one_error(result, 2, "Read-only file system")
    assert "training steps" not in result.stderr  # refused before any training
    assert _files(run) == before


@pytest.mark.slow
def test_2_read_only_mount(tmp_path, saved):
    with _tmpfs(tmp_path / "ro") as ro:
        shutil.copytree(saved, ro / "run")
        if subprocess.run(["mount", "-o", "remount,ro", str(ro)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only")
        proc = _popen(["train", *_set(TINY), "--force", "--out", str(ro / "run")], tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err
        assert "Read-only file system" in err or "not writable" in err
        assert "training steps" not in err and "Traceback" not in err


# 3. Permission denied on a run's files --------------------------------------------------------------------------


def test_3_permission_denied_is_one_line(runner, saved, monkeypatch):
    if os.geteuid() != 0:
        os.chmod(saved / "weights.safetensors", 0)
    else:  # root reads anything: refuse the open as the kernel would without CAP_DAC_OVERRIDE
        real = os.open

        def fake_open(path, flags, *args, **kwargs):
            if str(path) == "weights.safetensors":
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
    result = runner.invoke(app, ["sample", "--run", str(saved)])
    _one_error(result, 2, "weights.safetensors: cannot open it: Permission denied")


# 4. SIGTERM: stop after the step, save marked interrupted; stale folders cleaned up only when their process is gone


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_4_sigterm_saves_an_interrupted_run(tmp_path, signum):
    run = tmp_path / "run"
    proc = _popen(["train", *_set(LONG), "--out", str(run)], tmp_path)
    try:
        _wait_for_training(proc)
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and "interrupted after step" in err and signal.Signals(signum).name in err
    loaded = load_run(run)
    assert loaded.interrupted and 0 < loaded.steps_done < 200000
    assert _hidden(tmp_path) == []


def test_4_sigterm_during_the_save_leaves_the_run_whole(runner, tmp_path, monkeypatch):
    import seqdiag.rundir as rundir

    real = rundir._write_bytes
    sent = []

    def write_and_signal(path, data):
        if not sent:
            sent.append(path)
            os.kill(os.getpid(), signal.SIGTERM)  # one SIGTERM while the run is being written
        real(path, data)

    monkeypatch.setattr(rundir, "_write_bytes", write_and_signal)
    result = runner.invoke(app, ["train", *_set(TINY), "--out", str(tmp_path / "run")])
    assert sent and result.exit_code == 0, result.output
    assert load_run(tmp_path / "run").steps_done == 60
    assert _hidden(tmp_path) == []


def test_4_second_sigterm_during_the_save_aborts_cleanly(runner, tmp_path, monkeypatch, saved):
    import seqdiag.rundir as rundir

    before = _files(saved)
    real = rundir._write_bytes

    def write_and_signal(path, data):
        os.kill(os.getpid(), signal.SIGTERM)  # each write gets one: the second aborts
        real(path, data)

    monkeypatch.setattr(rundir, "_write_bytes", write_and_signal)
    result = runner.invoke(app, ["train", *_set(TINY), "--force", "--out", str(saved)])
    assert result.exit_code == 143, result.output
    assert "Traceback" not in result.output
    assert _files(saved) == before and _hidden(tmp_path) == []


def test_4_stale_folders_are_removed_only_when_their_process_is_gone(runner, tmp_path, saved):
    dead, alive = _dead_pid(), subprocess.Popen(["sleep", "30"])
    try:
        for name in (f".run.partial-{dead}", f".run.replaced-{dead}", f".run.partial-{alive.pid}"):
            shutil.copytree(saved, tmp_path / name)
        result = runner.invoke(app, ["train", *_set(TINY), "--force", "--out", str(saved)])
        assert result.exit_code == 0, result.output
        assert f"removed {tmp_path / f'.run.partial-{dead}'}, left by process {dead}" in result.stderr
        assert _hidden(tmp_path) == [f".run.partial-{alive.pid}"]  # its process is alive: untouched
    finally:
        alive.kill()


# 5. Killed between the two renames of --force: the next run finishes the replacement --------------------------


@pytest.mark.slow
def test_5_replace_killed_between_renames_is_finished_by_the_next_run(runner, tmp_path, saved):
    env = child_env()
    args = ["train", *_set(TINY), "--seed", "1", "--force", "--out", str(saved)]
    done = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, *args], env=env, capture_output=True)
    assert done.returncode == -signal.SIGKILL
    # the old run and the new one beside it, and the killed writer's lock file (unlocked: its process is gone)
    assert not saved.exists() and len(_hidden(tmp_path)) == 3
    result = runner.invoke(app, ["sample", "--run", str(saved), "--json"])
    assert result.exit_code == 0, result.output
    assert f"{saved}: finished replacing it" in result.stderr
    assert load_run(saved).config.seed == 1 and _hidden(tmp_path) == []


def test_5_replace_without_a_whole_new_run_restores_the_old(runner, tmp_path, saved):
    before = _files(saved)
    dead = _dead_pid()
    os.replace(saved, tmp_path / f".run.replaced-{dead}")
    (tmp_path / f".run.partial-{dead}").mkdir()  # the new run was never complete
    result = runner.invoke(app, ["train", *_set(TINY), "--force", "--out", str(saved), "--json"])
    assert result.exit_code == 0, result.output
    assert f"{saved}: restored the previous run" in result.stderr
    assert _hidden(tmp_path) == []
    assert _files(saved) != before  # then replaced by this run, as asked


# 6. Two writers of one run: the second stops at once, naming the first -----------------------------------------


@pytest.mark.slow
def test_6_second_writer_exits_2_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    first = _popen(["train", *_set(LONG), "--out", str(run)], tmp_path)
    try:
        _wait_for_training(first)
        second = _popen(["train", *_set(TINY), "--force", "--out", str(run)], tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert f"process {first.pid} (seqdiag train" in err and "is writing it now" in err
        assert "training steps" not in err and "Traceback" not in err
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 143
    assert load_run(run).interrupted and _hidden(tmp_path) == []  # the first one's run, its lock file removed


# 7. Readers during a replace see one run, whole ---------------------------------------------------------------


@pytest.mark.slow
def test_7_readers_during_replace_see_one_whole_run(tmp_path, two_runs):
    run = save_run(two_runs[0], tmp_path / "run")
    weights = {r.config.seed: r.model.state_dict()["out_weight"] for r in two_runs}
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            i = 0
            while not stop.is_set():
                i += 1
                save_run(two_runs[i % 2], run, force=True)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(seen) < 2 or len(seen) < 2 and time.monotonic() < deadline + 20:
            loaded = load_run(run)  # raises on any mix of two runs' files
            assert torch.equal(loaded.model.state_dict()["out_weight"], weights[loaded.config.seed])
            seen.add(loaded.config.seed)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert seen == {0, 1}


def test_7_files_of_two_runs_mixed_are_refused(runner, tmp_path, two_runs):
    a = save_run(two_runs[0], tmp_path / "a")
    b = save_run(two_runs[1], tmp_path / "b")
    shutil.copy(b / "weights.safetensors", a / "weights.safetensors")
    _one_error(runner.invoke(app, ["sample", "--run", str(a)]), 2, "its files are not of one run")


# 8. Ctrl-C while Python imports seqdiag ------------------------------------------------------------------------


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has installed its own SIGTERM handler (seqdiag's entry point does so first thing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_8_stop_signal_during_import_exits_quietly(tmp_path, delay, signum):
    """From the moment seqdiag's own code runs (its entry point installs its handlers before importing typer, rich
    or torch), a stop signal exits 128 + signal quietly. Before that is CPython's own start-up (site, the editable
    install's finder), where no package can catch it."""
    proc = _popen(["presets"], tmp_path)
    deadline = time.monotonic() + 30
    while not _handles_sigterm(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    # 128 + N: it exited through its handler; -N: it ended by the signal itself, which a shell also reports as
    # 128 + N; 0: it finished before the signal.
    assert proc.returncode in (128 + signum, -signum, 0), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


# 9-16. Hostile or huge content ----------------------------------------------------------------------------------

HUGE_INT = "7" * 5000


_summary = summary_raw


def _history_line(change: Callable[[dict], dict | str]) -> Callable[[Path], None]:
    return then_rehash(history_first(change))


def _write(name: str, text: str, rehash: bool = True) -> Callable[[Path], None]:
    return then_rehash(write(name, text)) if rehash else write(name, text)


def _optimizer_state(key: str, value: float) -> Callable[[Path], None]:
    return then_rehash(tensor("resume.safetensors", key, value))


RUN_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    # 9. integers over 4300 digits, and ones beyond float's range, in every run file
    ("9-summary-huge-int", _summary(steps_done=HUGE_INT), "summary.json: unreadable JSON"),
    ("9-history-huge-int", _history_line(lambda d: json.dumps(d).replace('"step": 0', f'"step": {HUGE_INT}')),
     "history.jsonl: line 1 is not a snapshot"),
    ("9-losses-huge-int", _write("losses.json", f"[{HUGE_INT[:4400]}]"), "losses.json: "),  # over its size limit
    ("9-losses-huge-int-within-limit", _write("losses.json", "[" + "7" * 2900 + "]"), "losses.json: "),
    ("9-config-huge-int", _write("config.toml", f"seed = {HUGE_INT}\n"), "config.toml: not readable TOML"),
    ("9-losses-1e400", _write("losses.json", json.dumps([10**400] + [0.5] * 59)), "expected a list of finite losses"),
    ("9-summary-seconds-1e400", _summary(seconds=str(10**400)), "seconds = <an integer of about 401 digits>"),
    ("9-history-loss-1e400", _history_line(lambda d: d | {"loss": 10**400}), "is not a finite number"),
    # 10. deep nesting
    ("10-summary-deep", _write("summary.json", "[" * 200000, rehash=False), "summary.json: unreadable JSON"),
    ("10-losses-deep", _write("losses.json", "[" * 2900), "losses.json: unreadable JSON: nested too deeply"),
    ("10-history-deep", _write("history.jsonl", "[" * 6000), "history.jsonl: line 1 is not a snapshot (nested"),
    # 11. empty history, a procedure missing, a lone surrogate
    ("11-history-empty", _write("history.jsonl", ""), "history.jsonl: empty"),
    ("11-history-missing-procedure", _history_line(lambda d: d | {"outputs": {"teacher": "0"}, "accuracy": {
        "teacher": 0.5}}), "outputs must map each procedure"),
    ("11-history-surrogate", _history_line(lambda d: json.dumps(d).replace('"teacher": "', '"teacher": "\\ud800')),
     "an output holds something other than"),
    # 12. terminal escape sequences stored as an output
    ("12-history-escapes", _history_line(lambda d: d | {"outputs": d["outputs"] | {"free": "\x1b[2J\x1b]0;pwned\x07"}}),
     "an output holds something other than"),
    # 13. files seqdiag does not write: refused by name, never opened
    *[(f"13-extra-{name.strip()}", extra(name), "not a file seqdiag writes") for name in (
        "checkpoint.pth.tar", "model.pkl.gz", "model.pt2", "model.dill", "x.pt~", "model.pt ", "sub/model.pt",
        "model", "optimizer.safetensors.bak")],
    # 14. huge (sparse) files: refused by size before reading
    ("14-history-4G", sparse("history.jsonl", 4 << 30), "history.jsonl: 4,294,967,296 bytes, over the limit"),
    ("14-config-1G", sparse("config.toml", 1 << 30), "config.toml: 1,073,741,824 bytes, over the limit"),
    ("14-summary-1G", sparse("summary.json", 1 << 30), "over the limit"),
    ("14-losses-1G", sparse("losses.json", 1 << 30), "over the limit"),
    ("14-weights-1G", sparse("weights.safetensors", 1 << 30), "over the limit"),
    # 15. errors that must not mislead
    ("15-adam-step-negative", _optimizer_state("optimizer.0.step", -5.0), "is not a step count of this run"),
    ("15-adam-exp-avg-sq-negative", _optimizer_state("optimizer.0.exp_avg_sq", -1.0),
     "holds negative values (an average of squares); the file is corrupted"),
]  # fmt: skip


@pytest.mark.parametrize(("prepare", "needle"), [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES])
def test_9_to_15_hostile_run_files_are_one_line_exit_2(runner, tmp_path, saved, prepare, needle):
    prepare(saved)
    marker = tmp_path / "UNPICKLED"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    result = runner.invoke(app, ["compare", "--run", str(saved)])
    line = _one_error(result, 2, needle)
    assert "\x1b" not in result.output and len(line) < 600
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before and not marker.exists()


@pytest.mark.slow
def test_12_and_14_history_of_4_gigabytes_is_refused_at_once(runner, saved):
    sparse("history.jsonl", 4 << 30)(saved)
    started = time.perf_counter()
    _one_error(runner.invoke(app, ["sample", "--run", str(saved)]), 2, "over the limit")
    assert time.perf_counter() - started < 30  # was 40 s and 8.7 GB; now fstat says no before reading


def test_15_negative_rmsprop_square_avg_is_a_corrupt_file(runner, tmp_path):
    run = save_run(train(load_config(None, [*TINY, "train.optimizer=rmsprop", "train.steps=5"])), tmp_path / "run")
    _optimizer_state("optimizer.0.square_avg", -1.0)(run)
    _one_error(runner.invoke(app, ["train", "--resume", str(run)]), 2, "the file is corrupted")


CONFIG_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("9-set-huge-int", lambda t: ["--set", f"train.steps={HUGE_INT}"], "--set train.steps="),
    ("9-config-huge-int", lambda t: ["-c", str(_text(t, f"[train]\nsteps = {HUGE_INT}\n"))], "malformed TOML"),
    ("9-config-int-beyond-float", lambda t: ["-c", str(_text(t, f"[train]\nlr = {10**400}\n"))],
     "is beyond the range of a float"),
    ("10-config-deep", lambda t: ["-c", str(_text(t, "x = " + "[" * 100000))], "malformed TOML"),
    ("15-config-dev-null", lambda t: ["-c", "/dev/null"], "not a regular file"),
    ("15-config-fifo", lambda t: ["-c", _fifo(t)], "not a regular file"),
    ("15-start-symbol-in-pattern", lambda t: ["--set", "sequence.pattern=0S1"], "--set: sequence.start_symbol = 'S'"),
    ("15-huge-value-cut", lambda t: ["--set", "sequence.start_symbol=" + "x" * 5_000_000], "characters)"),
    ("16-set-newline", lambda t: ["--set", 'train.lr=0.01\nbogus = "x"'], "holds the control character '\\n'"),
    ("17-temperature-underflows", lambda t: ["--temperature", "1e-45"], "sample.temperature = 1e-45"),
    ("18-threads-20000", lambda t: ["--threads", "20000"], "--threads 20000: this machine has"),
    ("18-threads-100000", lambda t: ["--threads", "100000"], "--threads 100000: this machine has"),
]  # fmt: skip


def _text(tmp: Path, text: str) -> Path:
    path = tmp / "c.toml"
    path.write_text(text)
    return path


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "fifo")
    return str(tmp / "fifo")


@pytest.mark.parametrize(("args", "needle"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_9_to_18_bad_config_input_is_one_line_exit_2(runner, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["compare", *args(tmp_path)])
    line = _one_error(result, 2, needle)
    assert len(line) < 600  # a 5 MB value is cut, not echoed
    assert not (tmp_path / "runs").exists()


def test_9_and_10_grid_files(runner, tmp_path):
    deep = _text(tmp_path, "[grid]\nx = " + "[" * 100000)
    _one_error(runner.invoke(app, ["sweep", "--grid", str(deep)]), 2, str(deep))
    huge = _text(tmp_path, f'[grid]\n"train.steps" = [{HUGE_INT}]\n')
    _one_error(runner.invoke(app, ["sweep", "--grid", str(huge)]), 2, str(huge))


# 17. Sampling stays finite: huge weights, tiny temperatures ---------------------------------------------------


def test_17_huge_weights_sample_without_a_traceback(runner, saved):
    tensors = load_file(str(saved / "weights.safetensors"))
    tensors = {k: (v / max(float(v.abs().max()), 1e-30)).clamp(-1, 1) * 3e38 for k, v in tensors.items()}
    save_file(tensors, str(saved / "weights.safetensors"))
    rehash(saved)
    for args in (
        ["sample", "--temperature", "1"],
        ["compare", "--temperature", "1", "--rollouts", "50"],
        ["compare", "--temperature", "1e-30", "--top-k", "2"],
    ):
        result = runner.invoke(app, [*args, "--run", str(saved), "--json"])
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output


def test_17_safe_sampling_keeps_the_likeliest_symbol():
    from seqdiag.policy import Decoding

    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[3e38, -3e38, 1.0], [float("inf"), 0.0, float("nan")], [float("nan")] * 3])
    picks = Decoding(temperature=1e-30).choose(logits.expand(50, 3, 3), g)
    assert (picks[:, 0] == 0).all() and (picks[:, 1] == 0).all()  # the maximum, and the +inf one
    assert picks[:, 2].unique().numel() > 1  # no number at all: uniform


# 19. Resources: estimated before starting ---------------------------------------------------------------------


def test_19_sweep_of_a_million_seeds_is_refused_with_the_estimate(runner):
    result = runner.invoke(app, ["sweep", "--seeds", "1000000", *_set(["sequence.length=1000"])])
    _one_error(result, 2, "needs about")
    assert "of memory (estimate)" in result.stderr


def test_19_a_long_run_warns_with_its_estimate(runner, monkeypatch):
    import seqdiag.train

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(seqdiag.train, "train", stop)  # the warning comes before training; do not train
    result = runner.invoke(app, ["compare", *_set(["sequence.length=10000"])])
    assert result.exit_code == 130
    assert "will take about" in result.stderr and "(estimate, one thread)" in result.stderr


# 20. Threads are recorded, and a resume uses them ---------------------------------------------------------------


def test_20_threads_recorded_and_used_on_resume(runner, tmp_path):
    threads = min(2, os.cpu_count() or 1)
    run = tmp_path / "run"
    interrupted = train(load_config(None, TINY), should_stop=iter([False] * 10 + [True]).__next__)
    interrupted.runtime = {"threads": threads}
    save_run(interrupted, run)
    try:
        result = runner.invoke(app, ["train", "--resume", str(run), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["runtime"]["threads"] == threads
        assert json.loads((run / "summary.json").read_text())["runtime"]["threads"] == threads
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(1)


def test_20_resume_with_other_threads_warns(runner, tmp_path):
    run = tmp_path / "run"
    interrupted = train(load_config(None, TINY), should_stop=iter([False] * 10 + [True]).__next__)
    interrupted.runtime = {"threads": 1}
    save_run(interrupted, run)
    threads = min(2, os.cpu_count() or 1)
    if threads == 1:
        pytest.skip("one CPU: no other thread count to resume with")
    try:
        result = runner.invoke(app, ["train", "--resume", str(run), "--threads", str(threads), "--json"])
        assert result.exit_code == 0, result.output
        assert "but the run was trained with 1; the resumed steps may differ" in result.stderr
    finally:
        torch.set_num_threads(1)


def test_run_files_are_deterministic(two_runs):
    """run_id is a hash of contents, so byte-identical reruns stay byte-identical."""
    assert _run_files(two_runs[0]) == _run_files(two_runs[0])
