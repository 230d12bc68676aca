"""How the `seqdiag` process ends (`seqdiag.__main__.leave`): it skips the interpreter's teardown, and still runs
the atexit handlers, flushes what was printed, keeps the exit code, waits for threads, and says when stdout could
not be written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run(body: str, tmp_path: Path, **options) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, **options)


def test_leave_runs_atexit_handlers_flushes_stdout_and_keeps_the_code(tmp_path):
    marker = tmp_path / "atexit-ran"
    done = _run(
        f"""
        import atexit, sys
        from seqdiag.__main__ import leave
        atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
        sys.stdout.write("x" * 100000)  # left in the buffer: a bare os._exit would lose it
        leave(3)
        """,
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 100000
    assert marker.read_text() == "yes"
    assert done.stderr == ""


def test_leave_with_a_message_or_none(tmp_path):
    message = _run("from seqdiag.__main__ import leave\nleave('went wrong')\n", tmp_path)
    assert (message.returncode, message.stderr.strip()) == (1, "went wrong")
    assert _run("from seqdiag.__main__ import leave\nleave(None)\n", tmp_path).returncode == 0


def test_leave_waits_for_a_thread_still_running(tmp_path):
    marker = tmp_path / "thread-done"
    done = _run(
        f"""
        import threading, time
        from seqdiag.__main__ import leave
        def work():
            time.sleep(0.5)
            open({str(marker)!r}, "w").write("done")
        threading.Thread(target=work).start()
        leave(0)
        """,
        tmp_path,
    )
    assert done.returncode == 0
    assert marker.read_text() == "done"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["presets"], ["presets", "--json"], ["explain", "counting"]])
def test_stdout_on_a_full_disk_is_one_line_and_exit_1(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "seqdiag", *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
        )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("error:") and "No space left on device" in lines[0]


def test_a_profiler_still_gets_to_write_its_results(tmp_path):
    """`python -m cProfile -o FILE -m seqdiag ...` writes FILE after seqdiag's main returns."""
    out = tmp_path / "profile.out"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "seqdiag", "presets", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
