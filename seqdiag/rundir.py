"""The run directory: what `train` leaves behind and `sample`/`compare --run` read back.

    config.toml          the resolved config (reruns it exactly)
    weights.safetensors  the model's tensors (safetensors: plain data, loading it can never run code)
    history.jsonl        one snapshot a line: step, loss, every procedure's output and accuracy
    losses.json          the loss at every step
    summary.json         versions, seed, steps done, whether it was interrupted or stopped, timings, the threads
                         and engine it ran with (`runtime`), and `run_id`, a hash of the other files' contents
    resume.safetensors   the optimizer's state and the generators' states, so `train --resume` continues exactly
    sequences.txt        only for a `sequence.file` task: its sequences, one a line, as read when it trained. The run
                         keeps them, so it loads, samples, compares and resumes when moved to another folder or
                         machine, or when the text file was edited or deleted; config.toml records the file's path
                         as the user gave it (never made absolute), for the record

A run directory appears whole or not at all: everything is written (and synced) into a hidden sibling folder
`.NAME.partial-PID`, which is then renamed into place; `--force` first renames the old run aside to
`.NAME.replaced-PID`. A writer holds `seqdiag.lock.write_lock` throughout. Folders left behind by a process that
is gone are cleaned up by the next writer or reader, and a replacement interrupted between its two renames is
finished (the new run was complete before the first rename). A save that fails (disk full, permissions) leaves
the target as it was and saves the run to a fallback folder it names.

Reading opens the six files, and nothing else, through one handle on the directory, so a reader sees one run
whole even while `--force` replaces it; `run_id` is checked against the files read. Every file is checked to be
a plain file within its size limit before it is read; nothing in it is ever unpickled: tensors load through
safetensors, the config is TOML data, the rest is JSON. Any other entry in the folder makes the run refused
without being opened.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from seqdiag import __version__, judgement
from seqdiag.config import Config, config_from_dict, shown
from seqdiag.errors import ConfigError, RunError, RunFailure
from seqdiag.history import Snapshot
from seqdiag.lock import write_lock
from seqdiag.model import build_model
from seqdiag.procedures import NAMES as PROCEDURE_NAMES
from seqdiag.sequence import SequenceSet
from seqdiag.task import MAX_FILE_BYTES, parse_sequences, task_from_config
from seqdiag.train import TrainResult, make_optimizer

RUN_FORMAT = 2  # 2: resume.safetensors, summary `stopped`
FILES = ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "summary.json", "resume.safetensors")
SEQUENCES = "sequences.txt"  # beside FILES in a run of a sequence file, and only there
# The tensors each optimizer keeps per parameter (torch's state_dict names); hyperparameters come from the config.
OPTIMIZER_STATE = {"rmsprop": {"step", "square_avg"}, "adam": {"step", "exp_avg", "exp_avg_sq"}, "sgd": set()}
# Optimizer state that is a running average of squares: negative only in a corrupted file.
NON_NEGATIVE_STATE = {"square_avg", "exp_avg_sq"}

# Size limits, checked (with fstat) before a file is read, so a huge or sparse file is refused at once.
MAX_CONFIG_BYTES = 1 << 20  # config.toml: a config is a few hundred bytes
MAX_SUMMARY_BYTES = 1 << 20  # summary.json: versions, counts and the final outputs
MAX_SEQUENCE_BYTES = MAX_FILE_BYTES  # sequences.txt: what a sequence file may hold
LOSS_BYTES = 32  # losses.json: per step done (a float's JSON text and its separator)
HISTORY_REQUIRED = ("teacher", "free", "zeros", "refeed")  # the procedures every saved history has had
SNAPSHOT_BYTES = 1024  # history.jsonl: per snapshot, besides 8 bytes per output symbol
TENSOR_HEADER_BYTES = 1 << 20  # safetensors: the JSON header, besides the tensors the config implies
STALE = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|replaced)-(?P<pid>[0-9]+)")


def default_run_dir(config: Config, root: Path = Path("runs")) -> Path:
    """runs/<pattern>-<cell>-<policy>-seed<seed>, the pattern's symbols kept only where safe in a file name."""
    what = Path(config.sequence.file).stem if config.sequence.file else config.sequence.text or config.sequence.pattern
    pattern = re.sub(r"[^A-Za-z0-9]", "_", what)[:40]
    return root / f"{pattern}-{config.model.cell}-{config.train.policy}-seed{config.seed}"


def summary_of(result: TrainResult) -> dict[str, Any]:
    last = result.history[-1] if result.history else None
    return {
        "run_format": RUN_FORMAT,
        "seqdiag_version": __version__,
        "torch_version": torch.__version__,
        "seed": result.config.seed,
        "steps_done": result.steps_done,
        "steps_planned": result.config.train.steps,
        "interrupted": result.interrupted,
        "stopped": result.stopped,
        "seconds": round(result.seconds, 3),
        "final_loss": last.loss if last else None,
        "final_outputs": last.outputs if last else {},
        "runtime": dict(result.runtime),
    }


def run_id(files: dict[str, bytes], tensors: dict[str, dict[str, torch.Tensor]]) -> str:
    """A hash of a run's contents: config, history and losses as written, and the two files' tensors.

    summary.json records it; a reader recomputes it, so files of two runs mixed together are caught.
    """
    digest = hashlib.sha256()
    for name in ("config.toml", "history.jsonl", "losses.json", SEQUENCES):
        if name in files:  # sequences.txt: in a run of a sequence file only
            digest.update(name.encode() + b"\0" + files[name] + b"\0")
    for name in ("weights.safetensors", "resume.safetensors"):
        for key, value in sorted(tensors[name].items()):
            value = value.detach().cpu().contiguous()
            digest.update(f"{name}/{key}/{value.dtype}/{tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


def _run_files(result: TrainResult) -> dict[str, bytes]:
    """The run's files' contents, as bytes: the six, and the sequences of a sequence file."""
    tensors = {
        "weights.safetensors": {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()},
        "resume.safetensors": _resume_tensors(result),
    }
    files = {
        "config.toml": tomli_w.dumps(result.config.to_dict()).encode(),
        "history.jsonl": "".join(json.dumps(asdict(snap)) + "\n" for snap in result.history).encode(),
        "losses.json": json.dumps(result.losses[0]).encode(),
    }
    if result.config.sequence.file:
        files[SEQUENCES] = "".join(f"{line}\n" for line in task_from_config(result.config.sequence).bodies).encode()
    summary = summary_of(result) | {"run_id": run_id(files, tensors)}
    files["summary.json"] = (json.dumps(summary, indent=2) + "\n").encode()
    metadata = {"seqdiag_version": __version__}
    for name, values in tensors.items():
        files[name] = save_safetensors(values, metadata=metadata)
    return files


def _write_bytes(path: Path, data: bytes) -> None:
    """Create `path` (never through a link) and write `data` to it, synced to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Write the run into a new `folder`, removing it again on any failure."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        for name in (SEQUENCES, *FILES) if SEQUENCES in files else FILES:  # FILES whole: sequences.txt is there too
            _write_bytes(folder / name, files[name])
        _sync_dir(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def fallback_dir(out: Path) -> Path:
    """Where a run that cannot be saved at `out` is saved instead: the temporary folder, named after `out`."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(out).name)[:60] or "run"
    return Path(tempfile.gettempdir()) / f"seqdiag-unsaved-{name}-{os.getpid()}"


def save_run(result: TrainResult, out: Path, force: bool = False) -> Path:
    """Write the run to `out` atomically, holding the write lock; refuses to replace an existing `out` unless
    `force`.

    Raises:
        RunError: `out` exists (and not `force`), is not a directory we may replace, or another process is
            writing it.
        RunFailure: the run could not be written (disk full, permissions): `out` is left as it was, and the
            message names the fallback folder the run was saved to instead, or says that saving failed there too.
    """
    out = Path(out)
    check_target(out, force)
    with write_lock(out):
        tidy(out)
        check_target(out, force)  # again, now that no one else can write it
        return _save_locked(result, out)


def _save_locked(result: TrainResult, out: Path) -> Path:
    """save_run's body, for a caller that already holds the write lock on `out`."""
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    retired = out.parent / f".{out.name}.replaced-{os.getpid()}"
    files = _run_files(result)
    try:
        _write_folder(staging, files)
    except OSError as exc:
        raise _save_failure(out, exc, files) from None
    try:
        if out.exists():
            os.replace(out, retired)
            os.replace(staging, out)
            _sync_dir(out.parent)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
            _sync_dir(out.parent)
    except BaseException as exc:
        if retired.exists() and not out.exists():  # stopped between the two renames: put the old run back
            os.replace(retired, out)
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _save_failure(out, exc, files) from None
        raise
    return out


def _save_failure(out: Path, exc: OSError, files: dict[str, bytes]) -> RunFailure:
    """Save the run to the fallback folder instead, and say so in one line (exit 1)."""
    why = exc.strerror or str(exc)
    kept = "the run already there is unchanged" if out.exists() else "nothing was left there"
    fallback = fallback_dir(out)
    try:
        _write_folder(fallback, files)
    except OSError as second:
        lost = f"saving it to {fallback} failed too ({second.strerror or second}); the trained run is lost"
        return RunFailure(f"{out}: cannot save the run ({why}); {kept}; {lost}")
    return RunFailure(
        f"{out}: cannot save the run ({why}); {kept}; the trained run is saved in {fallback} instead "
        f"(move it with: mv {fallback} {out})"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process, or not a pid at all
    return True


def tidy(out: Path) -> list[str]:
    """Clean up after seqdiag processes that are gone, beside `out`; call it holding the write lock on `out`.

    A replacement stopped between its two renames (`out` missing, `.NAME.replaced-PID` present) is finished
    when its new run is whole (`.NAME.partial-PID`, complete: it was written before the first rename), else the
    old run is put back. Then stale `.NAME.partial-PID` and `.NAME.replaced-PID` folders whose process is gone
    are removed. A folder of a process still alive is never touched. Returns what was done, one line each.
    """
    out = Path(out)
    notes: list[str] = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return notes
    stale: dict[str, dict[int, Path]] = {"partial": {}, "replaced": {}}
    for entry in entries:
        match = STALE.fullmatch(entry.name)
        if match and match["name"] == out.name and not _pid_alive(int(match["pid"])):
            stale[match["kind"]][int(match["pid"])] = entry
    if not (out.exists() or out.is_symlink()):
        for pid, old in sorted(stale["replaced"].items()):
            new = stale["partial"].get(pid)
            try:
                if new is not None and all((new / f).is_file() for f in FILES):
                    os.replace(new, out)
                    shutil.rmtree(old, ignore_errors=True)
                    del stale["partial"][pid]
                    notes.append(f"{out}: finished replacing it (process {pid} stopped between its two renames)")
                else:
                    os.replace(old, out)
                    notes.append(f"{out}: restored the previous run (process {pid} stopped while replacing it)")
            except OSError:
                continue
            del stale["replaced"][pid]
            break
    for kind in ("partial", "replaced"):
        for pid, folder in sorted(stale[kind].items()):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                notes.append(f"removed {folder}, left by process {pid}, which is gone")
    return notes


def is_run(path: Path) -> bool:
    """Whether `path` looks like a seqdiag run directory (the kind `--force` may replace)."""
    return path.is_dir() and (path / "summary.json").is_file() and (path / "config.toml").is_file()


def check_target(out: Path, force: bool = False) -> None:
    """Refuse an --out we must not write: existing (without force), not a run, under a file, or not writable.

    Raises:
        RunError: naming the path and what to do instead.
    """
    if out.exists() or out.is_symlink():
        if not force:
            raise RunError(f"{out}: already exists; pass --force to replace it or --out another folder")
        if not out.is_dir():
            raise RunError(f"{out}: exists and is not a directory; --force replaces only a seqdiag run")
        if any(out.iterdir()) and not is_run(out):
            raise RunError(f"{out}: not a seqdiag run; --force replaces only a run directory, choose another --out")
        if not os.access(out.parent, os.W_OK | os.X_OK):
            raise RunError(f"{out}: cannot be replaced, {out.parent} is not writable")
        return
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunError(f"{out}: cannot be created, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"{out}: cannot be created, {parent} is not writable")


@contextmanager
def writing(out: Path, force: bool = False) -> Iterator[list[str]]:
    """Hold the write lock on `out` while training into it: checked, locked and tidied before training starts,
    so a second writer, or a folder that cannot be written, fails at once. Yields the lines `tidy` reports.
    Inside, save with `save_locked`.
    """
    out = Path(out)
    check_target(out, force)
    with write_lock(out):
        notes = tidy(out)
        check_target(out, force)
        yield notes


def save_locked(result: TrainResult, out: Path, force: bool = False) -> Path:
    """Save inside `writing(out)` (the lock is held): the checks of save_run, without taking the lock again."""
    out = Path(out)
    check_target(out, force)
    return _save_locked(result, out)


def _resume_tensors(result: TrainResult) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter tensors as `optimizer.<index>.<name>`, and `generator.<name>` states."""
    tensors: dict[str, torch.Tensor] = {}
    for index, values in result.optimizer_state.get("state", {}).items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
    for name, state in result.generator_states.items():
        tensors[f"generator.{name}"] = state.detach().cpu().contiguous()
    return tensors


class _Files:
    """The six files of one run, opened through one handle on its directory (so all from the same run).

    Opening is separate from reading: every file is opened first, then read one by one, each after checking
    it is a plain file within its size limit.
    """

    def __init__(self, path: Path, fds: dict[str, int]) -> None:
        self.path = path
        self.fds = fds

    def size(self, name: str) -> int:
        return os.fstat(self.fds[name]).st_size

    def read(self, name: str, limit: int, why: str) -> bytes:
        """The whole file, refused when over `limit` bytes (`why` says what the limit follows from)."""
        file = self.path / name
        size = self.size(name)
        if size > limit:
            raise RunError(f"{file}: {size:,} bytes, over the limit of {limit:,} for {why}; not read")
        chunks: list[bytes] = []
        offset = 0
        try:
            while offset <= limit:
                chunk = os.pread(self.fds[name], min(1 << 24, limit + 1 - offset), offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
        except OSError as exc:
            raise RunError(f"{file}: cannot read it: {exc.strerror or exc}") from None
        if offset > limit:  # it grew while being read
            raise RunError(f"{file}: over the limit of {limit:,} bytes for {why}; not read")
        return b"".join(chunks)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


class _Replaced(Exception):
    """A file listed in the directory was gone when opened: the run is being replaced; open it again."""


def _open_files(path: Path, directory: int) -> _Files:
    """Open the files seqdiag writes, and only those, without following links; refuse anything else."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise RunError(f"{path}: cannot list it: {exc.strerror or exc}") from None
    others = [n for n in names if n not in (*FILES, SEQUENCES)]
    if others and len(others) < len(names):
        name = others[0] if others[0].isprintable() and len(others[0]) <= 80 else shown(others[0], 60)
        raise RunError(
            f"{path / name}: not a file seqdiag writes (a run holds exactly {', '.join(FILES)}, and {SEQUENCES} "
            "for a sequence file); seqdiag never "
            "opens other files (one could be a pickle, which runs code when loaded), so this run is refused; "
            "move it out of the run directory"
        )
    missing = [f for f in FILES if f not in names]
    if len(missing) == len(FILES):
        raise RunError(f"{path}: not a seqdiag run (none of {', '.join(FILES)})")
    fds: dict[str, int] = {}
    try:
        for name in (*FILES, SEQUENCES):
            if name in missing or name not in names:
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
            except FileNotFoundError:
                raise _Replaced from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise RunError(f"{path / name}: is a symbolic link; a run holds plain files only") from None
                raise RunError(f"{path / name}: cannot open it: {exc.strerror or exc}") from None
            fds[name] = fd
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                raise RunError(f"{path / name}: is {kind}; a run holds plain files only")
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    files = _Files(path, fds)
    if missing:
        try:
            _explain_missing(files, missing)
        finally:
            files.close()
    return files


def _explain_missing(files: _Files, missing: list[str]) -> None:
    """A run of another format lacks files for that reason: say so; else name what is missing."""
    if "summary.json" not in missing:
        try:
            data = json.loads(files.read("summary.json", MAX_SUMMARY_BYTES, "a summary"))
            found = data.get("run_format") if isinstance(data, dict) else None
        except (RunError, ValueError, RecursionError):
            found = None
        if found is not None:
            _read_summary(files)
    raise RunError(f"{files.path}: incomplete run, missing {', '.join(missing)}")


@contextmanager
def _opened(path: Path) -> Iterator[_Files]:
    """Open a run's files, all from one directory, retrying while a replacement is under way (its two renames
    take microseconds; a replaced run's files may be removed between listing and opening them)."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if _replacing(path) and time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise RunError(f"{path}: no such run directory") from None
        except NotADirectoryError:
            raise RunError(f"{path}: is a file, not a run directory") from None
        except OSError as exc:
            raise RunError(f"{path}: cannot open it: {exc.strerror or exc}") from None
        try:
            files = _open_files(path, directory)
        except _Replaced:
            if time.monotonic() < deadline:
                continue
            raise RunError(f"{path}: is being replaced by another process; try again") from None
        finally:
            os.close(directory)
        try:
            yield files
        finally:
            files.close()
        return


def _replacing(path: Path) -> bool:
    """Whether a writer's folders for `path` are beside it (a replacement under way, or interrupted)."""
    try:
        return any(
            (m := STALE.fullmatch(entry.name)) is not None and m["name"] == path.name for entry in path.parent.iterdir()
        )
    except OSError:
        return False


def _parse_json(file: Path, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError: malformed JSON, or an integer too long to convert (over 4300 digits)
        reason = "nested too deeply" if isinstance(exc, RecursionError) else shown(str(exc), 200)
        raise RunError(f"{file}: unreadable JSON: {reason}") from None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float's range
        return False


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**63


def _read_summary(files: _Files) -> dict[str, Any]:
    file = files.path / "summary.json"
    summary = _parse_json(file, files.read("summary.json", MAX_SUMMARY_BYTES, "a summary"))
    if not isinstance(summary, dict) or summary.get("run_format") != RUN_FORMAT:
        found = summary.get("run_format") if isinstance(summary, dict) else None
        version = summary.get("seqdiag_version") if isinstance(summary, dict) else None
        if isinstance(version, str) and not (version.isprintable() and len(version) <= 40):
            version = shown(version, 40)
        made_by = f" (written by seqdiag {version})" if isinstance(version, str) else ""
        raise RunError(
            f"{file}: run_format = {shown(found, 40)}{made_by}; this seqdiag {__version__} reads {RUN_FORMAT}"
        )
    checks = {
        "steps_done": _is_count,
        "interrupted": lambda v: isinstance(v, bool),
        "seconds": _is_number,
        "stopped": lambda v: v is None or (isinstance(v, str) and len(v) <= 500 and v.isprintable()),
    }
    for key, ok in checks.items():
        if key not in summary or not ok(summary[key]):
            raise RunError(f"{file}: {key} = {shown(summary.get(key))} is missing or of the wrong type")
    runtime = summary.get("runtime", {})
    if not isinstance(runtime, dict) or not all(isinstance(k, str) for k in runtime):
        raise RunError(f"{file}: runtime = {shown(runtime)} is not a table")
    if "threads" in runtime and not (_is_count(runtime["threads"]) and runtime["threads"] >= 1):
        raise RunError(f"{file}: runtime.threads = {shown(runtime['threads'])} is not a thread count")
    if "engine" in runtime and runtime["engine"] not in ("torch", "numba"):
        raise RunError(f"{file}: runtime.engine = {shown(runtime['engine'])} is not torch or numba")
    identity = summary.get("run_id", "0" * 32)
    if not (isinstance(identity, str) and re.fullmatch("[0-9a-f]{32}", identity)):
        raise RunError(f"{file}: run_id = {shown(summary['run_id'])} is not a run id")
    return summary


def _read_config(files: _Files) -> tuple[Config, bytes]:
    file = files.path / "config.toml"
    data = files.read("config.toml", MAX_CONFIG_BYTES, "a config")
    try:
        return config_from_dict(tomllib.loads(data.decode("utf-8"))), data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{file}: not readable TOML ({shown(str(exc), 200)})") from None
    except RecursionError:
        raise RunError(f"{file}: not readable TOML (nested too deeply)") from None
    except ConfigError as exc:
        raise RunError(f"{file}: {exc}") from None


def _read_sequences(files: _Files, config: Config) -> tuple[Config, bytes | None]:
    """The config with the sequences its run kept (a run of a sequence file never reads that file again), and
    sequences.txt as read (None for other tasks, which have none)."""
    file = files.path / SEQUENCES
    if not config.sequence.file:
        if SEQUENCES in files.fds:
            raise RunError(f"{file}: not a file of this run (its config names no sequence.file); move it out")
        return config, None
    if SEQUENCES not in files.fds:
        raise RunError(f"{files.path}: incomplete run, missing {SEQUENCES} (the sequences of {config.sequence.file})")
    data = files.read(SEQUENCES, MAX_SEQUENCE_BYTES, "a sequence file")
    try:
        lines = tuple(parse_sequences(data, str(file)))
        config = config.replace(sequence=dataclasses.replace(config.sequence, lines=lines))
        task_from_config(config.sequence, config.sample.prompt)  # the prompt leaves each sequence a symbol to predict
        return config, data
    except ConfigError as exc:
        raise RunError(str(exc)) from None


def _tensor_limit(expected: dict[str, torch.Tensor]) -> int:
    return TENSOR_HEADER_BYTES + sum(t.numel() * t.element_size() for t in expected.values())


def _read_tensors(files: _Files, name: str, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Load one safetensors file (never a pickle) no larger than `expected` implies; checked by the caller."""
    file = files.path / name
    data = files.read(name, _tensor_limit(expected), "the tensors this config implies")
    try:
        return load_safetensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError, OverflowError, TypeError) as exc:
        raise RunError(f"{file}: not a readable safetensors file ({shown(str(exc), 200)})") from None


def _check_tensors(file: Path, found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """The same names, shapes and dtypes as `expected`, and only finite values."""
    for key in sorted(expected.keys() | found.keys()):
        want, got = expected.get(key), found.get(key)
        if want is None:
            shown_keys = ", ".join(sorted(expected))
            raise RunError(f"{file}: unexpected tensor {shown(key, 60)}; this config has {shown_keys}")
        if got is None:
            raise RunError(f"{file}: tensor {key!r} is missing")
        if tuple(got.shape) != tuple(want.shape):
            raise RunError(f"{file}: {key} has shape {tuple(got.shape)}, the config needs {tuple(want.shape)}")
        if got.dtype != want.dtype:
            raise RunError(f"{file}: {key} is {got.dtype}, expected {want.dtype}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise RunError(f"{file}: {key} holds NaN or infinite values")


def _resume_expected(config: Config, model: torch.nn.Module, with_optimizer: bool) -> dict[str, torch.Tensor]:
    expected: dict[str, torch.Tensor] = {}
    names = OPTIMIZER_STATE[config.train.optimizer]
    if with_optimizer or not names:
        for index, param in enumerate(model.parameters()):
            for name in names:
                expected[f"optimizer.{index}.{name}"] = torch.zeros(()) if name == "step" else param.detach()
    generators = {"coins": torch.Generator().get_state(), "torch": torch.get_rng_state()}
    return expected | {f"generator.{name}": state for name, state in generators.items()}


def _read_resume(
    files: _Files, config: Config, model: torch.nn.Module, steps_done: int
) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The optimizer state_dict (hyperparameters from the config), the generator states, and the raw tensors."""
    file = files.path / "resume.safetensors"
    tensors = _read_tensors(files, "resume.safetensors", _resume_expected(config, model, with_optimizer=True))
    # A run saved before its first optimizer step has no optimizer state.
    with_optimizer = any(k.startswith("optimizer.") for k in tensors)
    _check_tensors(file, tensors, _resume_expected(config, model, with_optimizer))
    for key, value in tensors.items():
        _, _, name = key.rpartition(".")
        if not key.startswith("optimizer."):
            continue
        if name == "step":
            step = float(value)
            if step != int(step) or not 0 <= step <= steps_done + 1:
                raise RunError(
                    f"{file}: {key} = {step:g} is not a step count of this run (0..{steps_done + 1}); "
                    "the file is corrupted"
                )
        elif name in NON_NEGATIVE_STATE and bool((value < 0).any()):
            raise RunError(f"{file}: {key} holds negative values (an average of squares); the file is corrupted")
    for name in ("coins", "torch"):
        try:
            torch.Generator().set_state(tensors[f"generator.{name}"])
        except (RuntimeError, TypeError, ValueError):
            raise RunError(f"{file}: generator.{name} is not a generator state") from None
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, position, name = key.split(".", 2)
            state.setdefault(int(position), {})[name] = value
    param_groups = make_optimizer(list(model.parameters()), config.train).state_dict()["param_groups"]
    optimizer_state = {"state": state, "param_groups": param_groups}
    generator_states = {name: tensors[f"generator.{name}"] for name in ("coins", "torch")}
    return optimizer_state, generator_states, tensors


def _history_limit(config: Config, sequences: SequenceSet, steps_done: int) -> int:
    snapshots = steps_done // config.train.snapshot_every + 2
    return snapshots * (SNAPSHOT_BYTES + 8 * len(PROCEDURE_NAMES) * len(sequences.target_text()))


def _read_history(
    files: _Files, config: Config, sequences: SequenceSet, steps_done: int
) -> tuple[list[Snapshot], bytes]:
    file = files.path / "history.jsonl"
    raw = files.read("history.jsonl", _history_limit(config, sequences, steps_done), "the snapshots of the steps done")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RunError(f"{file}: not UTF-8 text (at byte {exc.start})") from None
    if not lines:
        raise RunError(f"{file}: empty; a run holds at least one snapshot (the one at its last step)")
    # A task with several sequences keeps each procedure's outputs joined by judgement.SEPARATOR.
    symbols = set(sequences.vocabulary.symbols) | {judgement.SEPARATOR}
    most = len(sequences.target_text())
    history: list[Snapshot] = []
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else shown(str(exc), 200)
            raise RunError(f"{file}: line {number} is not a snapshot ({reason})") from None
        problem = None
        if not isinstance(data, dict) or set(data) != {"step", "loss", "outputs", "accuracy"}:
            problem = "expected the keys step, loss, outputs, accuracy"
        elif not _is_count(data["step"]) or not data["step"] <= steps_done:
            problem = f"step {shown(data['step'])} is not a step of this run (0..{steps_done})"
        elif history and data["step"] <= history[-1].step:
            problem = f"step {data['step']} does not follow step {history[-1].step}"
        elif not _is_number(data["loss"]):
            problem = f"loss {shown(data['loss'])} is not a finite number"
        elif (
            not isinstance(data["outputs"], dict)
            or set(data["outputs"]) - set(PROCEDURE_NAMES)
            or set(HISTORY_REQUIRED) - set(data["outputs"])
        ):
            # Registered procedures only, and at least those the findings read: a run saved before a procedure
            # was added still loads.
            problem = (
                f"outputs must map each procedure ({', '.join(HISTORY_REQUIRED)}, and any of "
                f"{', '.join(p for p in PROCEDURE_NAMES if p not in HISTORY_REQUIRED)}) to its output"
            )
        elif not all(isinstance(v, str) and len(v) <= most and set(v) <= symbols for v in data["outputs"].values()):
            problem = f"an output holds something other than at most {most} symbols of the vocabulary"
        elif (
            not isinstance(data["accuracy"], dict)
            or set(data["accuracy"]) != set(data["outputs"])
            or not all(_is_number(v) and 0 <= v <= 1 for v in data["accuracy"].values())
        ):
            problem = "accuracy must map each procedure of outputs to a number in [0, 1]"
        if problem is not None:
            raise RunError(f"{file}: line {number} is not a snapshot ({problem})")
        data["loss"] = float(data["loss"])
        data["accuracy"] = {k: float(v) for k, v in data["accuracy"].items()}
        history.append(Snapshot(**data))
    return history, raw


def _read_losses(files: _Files, steps_done: int) -> tuple[list[float], bytes]:
    file = files.path / "losses.json"
    raw = files.read("losses.json", 1024 + LOSS_BYTES * steps_done, f"{steps_done} losses")
    losses = _parse_json(file, raw)
    if not isinstance(losses, list) or not all(_is_number(v) for v in losses):
        raise RunError(f"{file}: expected a list of finite losses")
    if len(losses) != steps_done:
        raise RunError(f"{file}: {len(losses)} losses, but summary.json says {steps_done} steps were done")
    return [float(v) for v in losses], raw


def recover(path: Path) -> list[str]:
    """Before reading `path`: finish or undo a replacement interrupted between its renames, and remove folders
    left by processes that are gone (see `tidy`), when no writer holds the lock. Returns what was done."""
    path = Path(path)
    if not _replacing(path):
        return []
    try:
        with write_lock(path):
            return tidy(path)
    except RunError:  # a writer holds it (it is mid-replace: the reader retries) or the folder is read-only
        return []


def load_run(path: Path, device: str = "cpu") -> TrainResult:
    """Read a run directory back into a TrainResult (the model in eval mode), checking every file.

    The files are all opened through one handle on the directory, so they come from one run even while
    `train --force` replaces it; `run_id` in summary.json is checked against their contents. Folders an
    interrupted writer left are dealt with first (`recover`); what was done is in the result's `notes`.

    Raises:
        RunError: naming the file that is missing, corrupted, too large, of another shape or of another version.
    """
    path = Path(path)
    notes = recover(path)
    with _opened(path) as files:
        summary = _read_summary(files)
        config, config_bytes = _read_config(files)
        config, sequences_bytes = _read_sequences(files, config)
        steps_done = summary["steps_done"]
        if steps_done > config.train.steps:
            raise RunError(
                f"{path / 'summary.json'}: steps_done = {steps_done} exceeds train.steps = {config.train.steps}"
            )
        sequences = SequenceSet.from_config(config)
        model = build_model(len(sequences.vocabulary), config.model, [config.seed], "cpu")
        weights = _read_tensors(files, "weights.safetensors", model.state_dict())
        _check_tensors(path / "weights.safetensors", weights, model.state_dict())
        model.load_state_dict(weights)
        optimizer_state, generator_states, resume = _read_resume(files, config, model, steps_done)
        history, history_bytes = _read_history(files, config, sequences, steps_done)
        losses, losses_bytes = _read_losses(files, steps_done)
    if "run_id" in summary:
        contents = {"config.toml": config_bytes, "history.jsonl": history_bytes, "losses.json": losses_bytes}
        if sequences_bytes is not None:
            contents[SEQUENCES] = sequences_bytes
        found = run_id(contents, {"weights.safetensors": weights, "resume.safetensors": resume})
        if found != summary["run_id"]:
            raise RunError(
                f"{path}: its files are not of one run (summary.json's run_id {summary['run_id']} does not match "
                f"the other files, {found}): it was changed or mixed with another run"
            )
    model.to(device)
    model.eval()
    return TrainResult(
        config=config,
        sequence=sequences.sequences[0],
        sequences=sequences,
        model=model,
        seeds=[config.seed],
        histories=[history],
        losses=[losses],
        steps_done=steps_done,
        seconds=float(summary["seconds"]),
        interrupted=summary["interrupted"],
        optimizer_state=optimizer_state,
        generator_states=generator_states,
        stopped=summary["stopped"],
        runtime=dict(summary.get("runtime", {})),
        notes=notes,
    )
