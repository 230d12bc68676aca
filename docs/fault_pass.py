"""A fault-injection pass against the `seqdiag` command, as an attacker or an unlucky user would meet it.

    python docs/fault_pass.py [--jobs 2] [--only SUBSTRING]   # prints one line per case, then "N cases, K failures"

Every case runs the real CLI in a fresh process (`python -m seqdiag`) against a prepared folder: hostile or
corrupted run directories, bad configs and options, unwritable or full targets, signals at awkward moments,
concurrent writers and readers. A case passes when the process exits with the expected code, prints no
traceback, says what went wrong in at most one `error:` line, leaves no hidden partial folder or lock file
behind, and leaves an existing run byte for byte as it was (unless the case replaces it on purpose).
Disk-full and read-only cases need to mount a tmpfs (root); elsewhere they are reported as skipped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the faults and the tiny setup are those of tests/test_reliability.py

from run_faults import (  # noqa: E402
    KILL_BETWEEN_RENAMES,
    TINY,
    as_set,
    child_env,
    extra,
    fill,
    history_first,
    mount_tmpfs,
    sparse,
    summary,
    summary_raw,
    tensor,
    write,
)
from run_faults import LONG as LONG_OVERRIDES  # noqa: E402
from run_faults import rehash as rehash_run  # noqa: E402

SET = as_set(TINY)
LONG = as_set(LONG_OVERRIDES)
FILES = ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "summary.json", "resume.safetensors")


@dataclass
class Case:
    name: str
    prepare: Callable[[Path], list[str]]  # builds the folder, returns the arguments
    codes: tuple[int, ...] = (2,)
    check: Callable[[Path, str, str], str | None] | None = None  # extra check: a failure message or None
    signal_after: tuple[int, float] | None = None  # (signal, seconds after start)
    signal_on_training: int | None = None  # a signal sent once training has started
    keeps_run: bool = True  # an existing run must stay byte for byte
    timeout: float = 180.0
    env: dict[str, str] = field(default_factory=dict)


def _seqdiag(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "seqdiag", *args]
    return subprocess.run(command, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = os.readlink(p).encode()
        elif p.is_file():
            out[str(p)] = p.read_bytes() if p.stat().st_size < 50_000_000 else b"big"
        else:
            out[str(p)] = None
    return out


# ---- building blocks for the cases ------------------------------------------------------------------------------


def _run(tmp: Path) -> Path:
    shutil.copytree(BASE, tmp / "run", symlinks=True)
    return tmp / "run"


def run_case(command: str, change: Callable[[Path], None], rehash: bool | int = False) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        run = _run(tmp)
        change(run)
        if rehash:
            rehash_run(run)
        return [*command.split(), str(run)]

    return prepare


def remove(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).unlink()


def symlink(name: str, target: str) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        (run / name).unlink()
        (run / name).symlink_to(target)

    return change


def as_dir(name: str) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        (run / name).unlink()
        (run / name).mkdir()

    return change


def fifo(name: str) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        (run / name).unlink()
        os.mkfifo(run / name)

    return change


def other_run_file(name: str) -> Callable[[Path], None]:
    return lambda run: shutil.copy(OTHER / name, run / name)


def argv(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: list(args)


def with_file(text: str | bytes, *args: str) -> Callable[[Path], list[str]]:
    """`args` with {file} replaced by a file holding `text`."""

    def prepare(tmp: Path) -> list[str]:
        path = tmp / "input.toml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return [a.replace("{file}", str(path)) for a in args]

    return prepare


def no_traceback_and_loadable(run_name: str = "run", interrupted: bool | None = None):
    def check(tmp: Path, out: str, err: str) -> str | None:
        from seqdiag.rundir import load_run

        try:
            loaded = load_run(tmp / run_name)
        except Exception as exc:  # noqa: BLE001
            return f"{run_name} not loadable: {exc}"
        if interrupted is not None and loaded.interrupted != interrupted:
            return f"interrupted = {loaded.interrupted}"
        return None

    return check


def says(text: str):
    return lambda tmp, out, err: None if text in err else f"stderr lacks {text!r}"


# ---- tmpfs ------------------------------------------------------------------------------------------------------


def full_disk(args_after: Callable[[Path, Path], list[str]], with_old_run: bool = False):
    def prepare(tmp: Path) -> list[str]:
        disk = tmp / "disk"
        if mount_tmpfs(disk, "300k") is not None:
            raise Skip("cannot mount a tmpfs")
        if with_old_run:
            shutil.copytree(BASE, disk / "run")
        fill(disk)
        return args_after(tmp, disk)

    return prepare


def read_only(args_after: Callable[[Path, Path], list[str]]):
    def prepare(tmp: Path) -> list[str]:
        disk = tmp / "ro"
        if mount_tmpfs(disk, "4M") is not None:
            raise Skip("cannot mount a tmpfs")
        shutil.copytree(BASE, disk / "run")
        if subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode:
            raise Skip("cannot remount read-only")
        return args_after(tmp, disk)

    return prepare


def fallback_saved(tmp: Path, out: str, err: str) -> str | None:
    if "saved in " not in err:
        return "no fallback named"
    fallback = Path(err.split("saved in ", 1)[1].split(" instead", 1)[0])
    from seqdiag.rundir import load_run

    try:
        load_run(fallback)
    except Exception as exc:  # noqa: BLE001
        return f"fallback not loadable: {exc}"
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
    return None


class Skip(Exception):
    pass


BASE = Path()
OTHER = Path()


# ---- the cases --------------------------------------------------------------------------------------------------


def cases() -> list[Case]:
    c: list[Case] = []
    for command in ("sample --run", "compare --run"):
        short = command.split()[0]
        for name in FILES if short == "sample" else ("weights.safetensors", "history.jsonl"):
            c.append(Case(f"{short}: {name} missing", run_case(command, remove(name))))
            c.append(Case(f"{short}: {name} empty", run_case(command, write(name, b""))))
            c.append(Case(f"{short}: {name} random bytes", run_case(command, write(name, os.urandom(3000)))))
            c.append(Case(f"{short}: {name} -> /etc/shadow", run_case(command, symlink(name, "/etc/shadow"))))
            c.append(Case(f"{short}: {name} a directory", run_case(command, as_dir(name))))
            c.append(Case(f"{short}: {name} a FIFO", run_case(command, fifo(name)), timeout=60))
            c.append(Case(f"{short}: {name} sparse 4 GB", run_case(command, sparse(name, 4 << 30)), timeout=60))
            c.append(Case(f"{short}: {name} from another run", run_case(command, other_run_file(name))))
    c += [
        Case("weights -> /proc/self/mem", run_case("sample --run", symlink("weights.safetensors", "/proc/self/mem"))),
        Case("summary deep nesting", run_case("sample --run", write("summary.json", "[" * 200000))),
        Case("losses deep nesting", run_case("sample --run", write("losses.json", "[" * 2900))),
        Case("history deep nesting", run_case("sample --run", write("history.jsonl", "[" * 5000))),
        Case("summary steps_done 5000 digits", run_case("sample --run", summary_raw(steps_done="7" * 5000))),
        Case("summary seconds 10**400", run_case("sample --run", summary_raw(seconds=str(10**400)))),
        Case("summary seconds NaN", run_case("sample --run", summary_raw(seconds="NaN"))),
        Case("summary run_format 1", run_case("sample --run", summary(run_format=1))),
        Case("summary steps_done > steps", run_case("sample --run", summary(steps_done=10**6))),
        Case("summary stopped escape", run_case("sample --run", summary(stopped="\x1b[2J\x1b]0;pwned\x07"))),
        Case("summary runtime.threads 0", run_case("sample --run", summary(runtime={"threads": 0}))),
        Case("summary run_id garbage", run_case("sample --run", summary(run_id="../../etc"))),
        Case("summary run_id of another run", run_case("sample --run", summary(run_id="0" * 32))),
        Case(
            "losses 10**400", run_case("sample --run", write("losses.json", json.dumps([10**400] + [0.5] * 59)), True)
        ),
        Case("losses 4400-digit int", run_case("sample --run", write("losses.json", "[" + "7" * 2900 + "]"), True)),
        Case("history empty", run_case("sample --run", write("history.jsonl", ""), True)),
        Case(
            "history escape output",
            run_case(
                "compare --run",
                history_first(lambda d: d | {"outputs": d["outputs"] | {"free": "\x1b[2J\x1b]0;pwned\x07"}}),
                True,
            ),
        ),
        Case(
            "history surrogate",
            run_case(
                "compare --run",
                history_first(lambda d: json.dumps(d).replace('"teacher": "', '"teacher": "\\ud800')),
                True,
            ),
        ),
        Case(
            "history missing procedure",
            run_case(
                "compare --run",
                history_first(lambda d: d | {"outputs": {"teacher": "0"}, "accuracy": {"teacher": 1.0}}),
                True,
            ),
        ),
        Case(
            "history extra procedure",
            run_case(
                "compare --run",
                history_first(
                    lambda d: d | {"outputs": d["outputs"] | {"x": "0"}, "accuracy": d["accuracy"] | {"x": 1.0}}
                ),
                True,
            ),
        ),
        Case(
            "history accuracy 2",
            run_case("compare --run", history_first(lambda d: d | {"accuracy": {k: 2.0 for k in d["accuracy"]}}), True),
        ),
        Case(
            "history step 10**400",
            run_case(
                "compare --run", history_first(lambda d: json.dumps(d).replace('"step": 0', f'"step": {10**400}')), True
            ),
        ),
        Case("adam step -5", run_case("train --resume", tensor("resume.safetensors", "optimizer.0.step", -5), True)),
        Case("adam step 1e9", run_case("train --resume", tensor("resume.safetensors", "optimizer.0.step", 1e9), True)),
        Case(
            "adam exp_avg_sq negative",
            run_case("train --resume", tensor("resume.safetensors", "optimizer.0.exp_avg_sq", -1), True),
        ),
        Case(
            "weights huge 3e38 sample T=1",
            run_case("sample --temperature 1 --run", tensor("weights.safetensors", "out_weight", 3e38), True),
            codes=(0,),
        ),
        Case(
            "weights huge 3e38 rollouts",
            run_case(
                "compare --json --temperature 1 --rollouts 50 --run",
                tensor("weights.safetensors", "out_weight", 3e38),
                True,
            ),
            codes=(0,),
        ),
        Case("run is a symlink to a run", lambda tmp: ["sample", "--run", str(_link(tmp))], codes=(0,)),
        Case("run is a file", argv("sample", "--run", "/etc/passwd")),
        Case("run is /proc", argv("sample", "--run", "/proc")),
        Case("run is missing", argv("sample", "--run", "nope")),
        Case("run is /dev/null", argv("sample", "--run", "/dev/null")),
    ]
    for name in ("checkpoint.pth.tar", "model.pkl.gz", "model.pt2", "model.dill", "x.pt~", "model.pt ", "model",
                 "optimizer.safetensors.bak", ".hidden", "model.pt"):  # fmt: skip
        c.append(Case(f"extra file {name!r}", run_case("sample --run", extra(name))))
    c.append(Case("extra sub/model.pt", run_case("sample --run", extra("sub/model.pt"))))
    c.append(Case("extra empty directory", run_case("sample --run", extra("tb", directory=True))))
    # configs and options
    c += [
        Case("--set newline", argv("compare", "--set", 'train.lr=0.01\nbogus = "x"')),
        Case("--set tab", argv("compare", "--set", "train.lr=0.01\tx")),
        Case("--set 5000-digit int", argv("compare", "--set", "train.steps=" + "7" * 5000)),
        Case("--set 10**400 float field", argv("compare", "--set", f"train.lr={10**400}")),
        Case(
            "--set 120 kB value",
            argv("compare", "--set", "sequence.start_symbol=" + "x" * 120_000),
            check=lambda t, o, e: None if len(e) < 2000 else f"error of {len(e)} characters",
        ),
        Case("--set start symbol in pattern", argv("compare", "--set", "sequence.pattern=0S1"), check=says("--set")),
        Case("--set unknown", argv("compare", "--set", "train.nope=1")),
        Case("--set deep", argv("compare", "--set", "train.lr=" + "[" * 100000)),
        Case("--config /dev/null", argv("compare", "--config", "/dev/null"), check=says("not a regular file")),
        Case("--config a directory", argv("compare", "--config", "/tmp")),
        Case("--config binary", with_file(os.urandom(2000), "compare", "--config", "{file}")),
        Case("--config deep", with_file("x = " + "[" * 100000, "compare", "--config", "{file}")),
        Case("--config 5000-digit", with_file("seed = " + "7" * 5000, "compare", "--config", "{file}")),
        Case("--config 1e400 int", with_file(f"[train]\nlr = {10**400}", "compare", "--config", "{file}")),
        Case("--config 2 MB", with_file("# " + "x" * 2_000_000, "compare", "--config", "{file}")),
        Case(
            "--config FIFO", lambda tmp: (os.mkfifo(tmp / "f"), ["compare", "--config", str(tmp / "f")])[1], timeout=60
        ),
        Case("--seed -1", argv("compare", "--seed", "-1")),
        Case("--seed 2**64", argv("compare", "--seed", str(2**64))),
        Case("--threads 0", argv("compare", "--threads", "0")),
        Case("--threads 20000", argv("compare", "--threads", "20000")),
        Case("--threads 40000", argv("compare", "--threads", "40000")),
        Case("--threads 100000", argv("compare", "--threads", "100000")),
        Case("--temperature 1e-45", argv("compare", "--temperature", "1e-45")),
        Case("--temperature nan", argv("compare", "--temperature", "nan")),
        Case("--temperature -1", argv("compare", "--temperature", "-1")),
        Case("--top-k 99", argv("compare", "--top-k", "99")),
        Case("--rollouts 10**7", argv("compare", "--rollouts", str(10**7))),
        Case("--inject garbage", argv("compare", "--inject", "a,b")),
        Case("sweep --seeds 1000000", argv("sweep", "--seeds", "1000000", "--set", "sequence.length=1000")),
        Case("sweep --seeds 2000000", argv("sweep", "--seeds", "2000000")),
        Case("grid deep", with_file("[grid]\nx = " + "[" * 100000, "sweep", "--grid", "{file}")),
        Case("grid 5000-digit", with_file('[grid]\n"train.steps" = [' + "7" * 5000 + "]", "sweep", "--grid", "{file}")),
        Case("grid /dev/null", argv("sweep", "--grid", "/dev/null")),
        Case("--out under a file", lambda tmp: ["train", *SET, "--out", "/etc/passwd/run"]),
        Case(
            "--out existing non-run --force",
            lambda tmp: (
                (tmp / "d").mkdir(),
                (tmp / "d" / "x").write_text("x"),
                ["train", *SET, "--force", "--out", str(tmp / "d")],
            )[-1],
        ),
        Case("--out /proc/x", argv("train", *SET, "--out", "/proc/x")),
        Case("--export a directory", argv("compare", *SET, "--export", "/tmp")),
        Case("--export unknown suffix", argv("compare", *SET, "--export", "x.pdf")),
    ]
    # full and read-only disks
    c += [
        Case(
            "disk full: train --out",
            full_disk(lambda t, d: ["train", *SET, "--out", str(d / "run")]),
            codes=(1,),
            check=fallback_saved,
        ),
        Case(
            "disk full: train --force",
            full_disk(lambda t, d: ["train", *SET, "--force", "--out", str(d / "run")], with_old_run=True),
            codes=(1,),
            check=fallback_saved,
        ),
        Case(
            "disk full: compare --out",
            full_disk(lambda t, d: ["compare", *SET, "--json", "--out", str(d / "run")]),
            codes=(1,),
            check=fallback_saved,
        ),
        Case(
            "read-only: train --force",
            read_only(lambda t, d: ["train", *SET, "--force", "--out", str(d / "run")]),
            check=lambda t, o, e: "trained before refusing" if "training steps" in e else None,
        ),
        Case("read-only: train --resume", read_only(lambda t, d: ["train", "--resume", str(d / "run")])),
        Case("read-only: sample --run", read_only(lambda t, d: ["sample", "--run", str(d / "run")]), codes=(0, 2)),
    ]
    # signals
    for delay in (0.02, 0.08, 0.15, 0.3, 0.6):
        c.append(
            Case(f"SIGINT at {delay}s (start-up)", argv("presets"), codes=(0, 130), signal_after=(signal.SIGINT, delay))
        )
        c.append(
            Case(
                f"SIGTERM at {delay}s (start-up)", argv("presets"), codes=(0, 143), signal_after=(signal.SIGTERM, delay)
            )
        )
    c += [
        Case(
            "SIGTERM mid-training",
            lambda tmp: ["train", *LONG, "--out", str(tmp / "new")],
            codes=(143,),
            signal_on_training=signal.SIGTERM,
            check=no_traceback_and_loadable("new", interrupted=True),
        ),
        Case(
            "SIGHUP mid-training",
            lambda tmp: ["train", *LONG, "--out", str(tmp / "new")],
            codes=(129,),
            signal_on_training=signal.SIGHUP,
            check=no_traceback_and_loadable("new", interrupted=True),
        ),
        Case(
            "SIGINT mid-training",
            lambda tmp: ["train", *LONG, "--out", str(tmp / "new")],
            codes=(130,),
            signal_on_training=signal.SIGINT,
            check=no_traceback_and_loadable("new", interrupted=True),
        ),
        Case("SIGTERM mid-compare", lambda tmp: ["compare", *LONG], codes=(143,), signal_after=(signal.SIGTERM, 10)),
        Case(
            "killed between renames, then read",
            _killed_between_renames,
            codes=(0,),
            check=says("finished replacing it"),
            keeps_run=False,
        ),
        Case("stale partial of a dead process", _stale, codes=(0,), check=says("which is gone"), keeps_run=False),
        Case("two writers at once", _two_writers, check=says("is writing it now")),
        Case("reader during replace (40 reads)", _reader_during_replace, codes=(0,), keeps_run=False, timeout=600),
    ]
    return c


def _link(tmp: Path) -> Path:
    run = _run(tmp)
    (tmp / "link").symlink_to(run)
    return tmp / "link"


def _killed_between_renames(tmp: Path) -> list[str]:
    run = _run(tmp)
    args = ["train", *SET, "--seed", "1", "--force", "--out", str(run)]
    subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, *args], env=child_env(), capture_output=True)
    return ["sample", "--run", str(run)]


def _stale(tmp: Path) -> list[str]:
    run = _run(tmp)
    child = subprocess.Popen(["true"])
    child.wait()
    shutil.copytree(BASE, tmp / f".run.partial-{child.pid}")
    return ["train", *SET, "--force", "--out", str(run)]


HOLDERS: dict[Path, subprocess.Popen] = {}


def _two_writers(tmp: Path) -> list[str]:
    first = subprocess.Popen([sys.executable, "-m", "seqdiag", "train", *LONG, "--out", str(tmp / "run2")],
                             cwd=tmp, env=child_env(), stderr=subprocess.PIPE, text=True)  # fmt: skip
    HOLDERS[tmp] = first
    assert first.stderr is not None
    while "training steps" not in first.stderr.readline():
        pass
    return ["train", *SET, "--force", "--out", str(tmp / "run2")]


READER = """
import sys, threading
from pathlib import Path
from seqdiag.rundir import load_run, save_run
from seqdiag.train import train
from seqdiag.config import load_config
tiny = %r
runs = [train(load_config(None, [*tiny, f"seed={s}"])) for s in (0, 1)]
target = Path(sys.argv[1]) / "swap"
save_run(runs[0], target)
stop = threading.Event()
def writer():
    i = 0
    while not stop.is_set():
        i += 1
        save_run(runs[i %% 2], target, force=True)
t = threading.Thread(target=writer); t.start()
bad = 0
try:
    for _ in range(40):
        r = load_run(target)
        want = runs[r.config.seed].model.state_dict()["out_weight"]
        bad += int(not bool((r.model.state_dict()["out_weight"] == want).all()))
finally:
    stop.set(); t.join()
print("mismatched", bad)
sys.exit(1 if bad else 0)
"""


def _reader_during_replace(tmp: Path) -> list[str]:
    (tmp / "reader.py").write_text(READER % (TINY,))
    return ["__python__", str(tmp / "reader.py"), str(tmp)]


# ---- running ----------------------------------------------------------------------------------------------------


def run_one(case: Case) -> tuple[str, str]:
    try:
        return _run_one(case)
    except Exception as exc:  # noqa: BLE001 (a case that cannot even be set up is a failure of the pass)
        return "FAIL", f"the case itself failed: {type(exc).__name__}: {exc}"


def _run_one(case: Case) -> tuple[str, str]:
    tmp = Path(tempfile.mkdtemp(prefix="fault-"))
    try:
        try:
            args = case.prepare(tmp)
        except Skip as exc:
            return "skip", str(exc)
        before = _snapshot(tmp / "run") if (tmp / "run").exists() and case.keeps_run else None
        command = [sys.executable, *args[1:]] if args[0] == "__python__" else [sys.executable, "-m", "seqdiag", *args]
        proc = subprocess.Popen(command, cwd=tmp, env=child_env(case.env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        err_head = ""
        try:
            if case.signal_after is not None:
                time.sleep(case.signal_after[1])
                proc.send_signal(case.signal_after[0])
            if case.signal_on_training is not None:
                assert proc.stderr is not None
                for _ in range(50):
                    line = proc.stderr.readline()
                    err_head += line
                    if "training" in line or not line:
                        break
                time.sleep(0.3)
                proc.send_signal(case.signal_on_training)
            out, err = proc.communicate(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return "FAIL", f"timed out after {case.timeout:.0f} s"
        err = err_head + err
        problems = []
        # Killed by the signal itself before Python installed any handler: no output, and the shell reports 128 + N.
        died_quietly = case.signal_after is not None and proc.returncode == -case.signal_after[0] and not err.strip()
        if proc.returncode not in case.codes and not died_quietly:
            problems.append(f"exit {proc.returncode}, expected {case.codes}")
        if "Traceback" in err or "Traceback" in out:
            problems.append("traceback")
        if "\x1b" in err or "\x1b" in out:
            problems.append("raw escape sequence reached the terminal")
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        if len(errors) > 1:
            problems.append(f"{len(errors)} error lines")
        leftovers = [p.name for p in tmp.rglob(".*") if ".partial-" in p.name or p.name.endswith(".lock")]
        if leftovers and "two writers" not in case.name:
            problems.append(f"left {leftovers}")
        if before is not None and (tmp / "run").exists() and _snapshot(tmp / "run") != before:
            problems.append("the existing run changed")
        if before is not None and not (tmp / "run").exists():
            problems.append("the existing run is gone")
        if case.check is not None and not problems:
            extra_problem = case.check(tmp, out, err)
            if extra_problem:
                problems.append(extra_problem)
        detail = (errors[0] if errors else err.strip().splitlines()[-1] if err.strip() else "")[:150]
        return ("FAIL" if problems else "ok"), "; ".join(problems) or f"exit {proc.returncode}: {detail}"
    finally:
        holder = HOLDERS.pop(tmp, None)
        if holder is not None:
            holder.kill()
            holder.wait()
        with open("/proc/mounts") as fh:
            mounts = [line.split()[1] for line in fh if line.split()[1].startswith(str(tmp))]
        for mount in mounts:
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    global BASE, OTHER
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", default="")
    parser.add_argument("--skip-done", type=Path, help="an earlier pass's output: run only the cases not in it")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault-base-"))
    for name, seed in (("base", "0"), ("other", "1")):
        done = _seqdiag(["train", *SET, "--seed", seed, "--out", str(work / name), "--json"], work)
        assert done.returncode == 0, done.stderr
    BASE, OTHER = work / "base", work / "other"
    selected = [case for case in cases() if options.only in case.name]
    if options.skip_done is not None:
        done_lines = options.skip_done.read_text().splitlines()
        reported = [line[6:] for line in done_lines if line[:4] in ("ok  ", "FAIL", "skip")]
        selected = [case for case in selected if not any(r.startswith(f"{case.name}: ") for r in reported)]
    results: dict[str, tuple[str, str]] = {}
    with concurrent.futures.ThreadPoolExecutor(options.jobs) as pool:
        futures = {pool.submit(run_one, case): case for case in selected}
        for future in concurrent.futures.as_completed(futures):
            case = futures[future]
            results[case.name] = future.result()
            status, detail = results[case.name]
            print(f"{status:4}  {case.name}: {detail}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    ran = [r for r in results.values() if r[0] != "skip"]
    failures = [name for name, r in results.items() if r[0] == "FAIL"]
    skipped = len(results) - len(ran)
    print(f"\n{len(ran)} cases, {len(failures)} failures" + (f" ({skipped} skipped)" if skipped else ""))
    for name in failures:
        print(f"  failed: {name}: {results[name][1]}")


if __name__ == "__main__":
    main()
