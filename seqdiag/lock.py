"""The advisory lock a writer holds on a run directory, so two processes never write the same run.

`train --out DIR`, `train --resume DIR` and `compare --out DIR` take an exclusive `fcntl.flock` on the hidden
sibling file `.DIR.lock` before they train, and hold it until the run is in place. A second writer does not
wait the whole training out: it stops at once with a line naming the process that holds the lock. The file
holds that process's id and command line, and is removed when the lock is released (after checking, on taking
it, that the file locked is still the one at the path, so removing it can never let two writers in).

Readers take no lock: a run is replaced by renaming a whole directory, and `seqdiag.rundir.load_run` opens every
file through one directory handle, so it reads one run, whole, even while it is being replaced.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqdiag.errors import RunError


def lock_path(target: Path) -> Path:
    """`.NAME.lock`, beside the run directory NAME (not in it: the directory itself is replaced)."""
    return target.parent / f".{target.name}.lock"


def _holder(fd: int) -> str:
    """Who holds the lock, as they wrote it: 'pid 123 (seqdiag train ...)'."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "another seqdiag process"
    command = "".join(c if c.isprintable() else "?" for c in command)[:120]
    return f"process {pid}" + (f" ({command})" if command else "")


@contextmanager
def write_lock(target: Path) -> Iterator[None]:
    """Hold the exclusive lock on `target` while inside; the parent folder is created if needed.

    Raises:
        RunError: another process holds it (named), or the folder cannot be written (so training would be
            lost at the end: this is checked before it starts).
    """
    target = Path(target)
    path = lock_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{target}: cannot be created: {exc.strerror or exc}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunError(f"{target}: cannot be written: {target.parent}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunError(
                f"{target}: {holder} is writing it now (lock {path}); wait for it to finish or choose another --out"
            ) from None
        # A previous holder removes the file on release; if it did so after we opened it, lock the new one.
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {' '.join(['seqdiag', *sys.argv[1:]])[:400]}\n".encode(), 0)
    except OSError:
        pass  # who holds it is a courtesy for the next writer; the lock itself is held
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)
