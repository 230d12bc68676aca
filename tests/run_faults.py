"""Faults done to a saved run directory and the tiny setup they are done on; one definition, shared by the tests
(tests/test_reliability.py) and the fault-injection pass (docs/fault_pass.py).

Each `change` builder returns a function that alters one run directory in place, the way a hostile or unlucky file
would; `then_rehash` records the altered files' run_id, for contents the writer never would have written but that
must be refused for what they hold, not for being mixed. Torch and safetensors are imported only where needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A tiny task that trains in a fraction of a second; LONG is stopped by a signal long before its end.
TINY = [
    "sequence.length=8", "model.gate=sigmoid", "model.embed_size=4", "model.hidden_size=8",
    "train.optimizer=adam", "train.lr=0.05", "train.steps=60", "train.snapshot_every=20",
]  # fmt: skip
LONG = [*TINY[:-2], "train.steps=200000", "train.snapshot_every=1000"]

# Run as `python -c KILL_BETWEEN_RENAMES train ... --force --out RUN`: the process is killed (SIGKILL) right after
# the old run was moved aside, before the new one took its place.
KILL_BETWEEN_RENAMES = """
import os, signal, sys
real = os.replace
def replace(src, dst):
    real(src, dst)
    if ".replaced-" in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from seqdiag.__main__ import main
sys.argv = ["seqdiag", *sys.argv[1:]]
main()
"""

Change = Callable[[Path], None]


def as_set(overrides: list[str]) -> list[str]:
    """`["a=1", "b=2"]` -> `["--set", "a=1", "--set", "b=2"]`."""
    return [arg for o in overrides for arg in ("--set", o)]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `python -m seqdiag` child: this checkout's package first."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}


def rehash(run: Path) -> None:
    """Record the run_id of the files as they are now (for contents the writer never would have written)."""
    from safetensors.torch import load_file

    from seqdiag.rundir import run_id

    names = ("config.toml", "history.jsonl", "losses.json", "sequences.txt")
    contents = {name: (run / name).read_bytes() for name in names if (run / name).exists()}
    tensors = {name: load_file(str(run / name)) for name in ("weights.safetensors", "resume.safetensors")}
    summary = json.loads((run / "summary.json").read_text())
    summary["run_id"] = run_id(contents, tensors)
    (run / "summary.json").write_text(json.dumps(summary))


def then_rehash(change: Change) -> Change:
    def apply(run: Path) -> None:
        change(run)
        rehash(run)

    return apply


def write(name: str, data: str | bytes) -> Change:
    """Replace a file's contents (a link or special file there is replaced by a regular file)."""

    def change(run: Path) -> None:
        (run / name).unlink(missing_ok=True)
        (run / name).write_bytes(data.encode() if isinstance(data, str) else data)

    return change


def sparse(name: str, size: int) -> Change:
    """Grow (or cut) a file to `size` bytes without writing them: a huge file that costs no disk."""

    def change(run: Path) -> None:
        with open(run / name, "r+b") as fh:
            fh.truncate(size)

    return change


def summary(**changes: object) -> Change:
    """Set keys of summary.json to JSON values."""

    def change(run: Path) -> None:
        data = json.loads((run / "summary.json").read_text())
        data.update(changes)
        (run / "summary.json").write_text(json.dumps(data))

    return change


def summary_raw(**raw: str) -> Change:
    """Set keys of summary.json to raw JSON text (numbers no encoder writes: 5000 digits, 1e400, NaN)."""

    def change(run: Path) -> None:
        text = json.dumps(json.loads((run / "summary.json").read_text()) | dict.fromkeys(raw, "@"))
        for key, value in raw.items():
            text = text.replace(f'"{key}": "@"', f'"{key}": {value}')
        (run / "summary.json").write_text(text)

    return change


def history_first(change_line: Callable[[dict], dict | str]) -> Change:
    """Rewrite the first snapshot of history.jsonl: `change_line` returns the new object, or the new line as text."""

    def change(run: Path) -> None:
        lines = (run / "history.jsonl").read_text().splitlines()
        new = change_line(json.loads(lines[0]))
        lines[0] = new if isinstance(new, str) else json.dumps(new)
        (run / "history.jsonl").write_text("\n".join(lines) + "\n")

    return change


def tensor(file: str, key: str, value: float) -> Change:
    """Fill one tensor of a safetensors file with `value`."""

    def change(run: Path) -> None:
        import torch
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(run / file))
        tensors[key] = torch.full_like(tensors[key], value)
        save_file(tensors, str(run / file))

    return change


def extra(name: str, directory: bool = False) -> Change:
    """Add a file seqdiag never writes (a pickle: loading it would run code), or an empty folder."""

    def change(run: Path) -> None:
        target = run / name
        if directory:
            target.mkdir(parents=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pickle.dumps({"x": 1}))

    return change


def mount_tmpfs(path: Path, size: str, read_only: bool = False) -> str | None:
    """Mount a tmpfs of `size` at `path`; None when done, else why not (it needs root)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return None if done.returncode == 0 else (done.stderr.decode().strip() or str(done.returncode))


def fill(folder: Path) -> None:
    """Fill the filesystem of `folder` to the last byte."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
