"""The writer's advisory lock: exclusive, names its holder, never left behind, and created before training."""

from __future__ import annotations

import os

import pytest

from seqdiag.errors import RunError
from seqdiag.lock import lock_path, write_lock


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    target = tmp_path / "run"
    with write_lock(target):
        assert lock_path(target).is_file()
        with pytest.raises(RunError, match=rf"{target}: process {os.getpid()} \(seqdiag.*\) is writing it now"):
            with write_lock(target):
                pass
    assert not lock_path(target).exists()  # removed on release
    with write_lock(target):  # and free again
        pass


def test_a_lock_taken_on_a_removed_file_is_retaken(tmp_path, monkeypatch):
    """A writer that opened the lock file just before its holder removed it locks a ghost: it must notice (the path
    no longer names that file) and lock the file at the path instead."""
    target = tmp_path / "run"
    with write_lock(target):
        ghost = os.open(lock_path(target), os.O_RDWR)  # opened by a waiting writer; then the holder releases
    real_open, opened = os.open, []

    def open_ghost_first(path, flags, *args, **kwargs):
        opened.append(path)
        if len(opened) == 1:
            return os.dup(ghost)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_ghost_first)
    try:
        with write_lock(target):
            assert len(opened) == 2  # the ghost was dropped and the lock taken again
            assert os.stat(lock_path(target)).st_ino != os.fstat(ghost).st_ino
    finally:
        os.close(ghost)


def test_a_folder_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="cannot be created"):
        with write_lock(blocker / "run"):
            pass
