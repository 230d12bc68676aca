"""The `seqdiag` command's entry point: stop signals are handled before anything heavy is imported.

A Ctrl-C in the first moments (while typer, rich or torch are being imported) exits 130 quietly instead of
printing a KeyboardInterrupt traceback; SIGTERM and SIGHUP unwind like Ctrl-C (see seqdiag.interrupt).

When the command is done, the process leaves without the interpreter's teardown (`leave`): once torch and
numba are loaded, tearing their modules down takes about a second, on every command, for nothing.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def main() -> None:
    try:
        try:
            from seqdiag.interrupt import exit_code, install_stop_handlers

            install_stop_handlers()
            from seqdiag.cli import main as cli_main

            cli_main()
        except KeyboardInterrupt as exc:
            try:
                sys.stderr.write("interrupted\n")
            except (OSError, ValueError):
                pass
            code = exit_code(exc) if "exit_code" in locals() else 130
            sys.exit(code)
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: str | int | None) -> NoReturn:
    """Exit with `code` (SystemExit's: None, an int, or a message), skipping the interpreter's teardown.

    What a normal exit does that matters still happens, in the same order: other threads are waited for (if
    any still runs, this falls back to a normal exit, as it does under a profiler or tracer), the atexit handlers
    run, and stdout and stderr are flushed. What is skipped is freeing every module and object one by one, which
    the process's end does anyway. Files the command wrote are closed by then (every write goes through
    `seqdiag.atomic`).
    """
    import atexit
    import os
    import threading

    if isinstance(code, str) or threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
        # A message to print, a thread to wait for, or a profiler or tracer (cProfile, coverage, a debugger)
        # that writes its results after this returns: the interpreter's own exit does each.
        sys.exit(code)
    status = code or 0
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader left (| head): what it wanted was written
            pass
        except (OSError, ValueError) as error:  # e.g. stdout on a full disk: the output is incomplete
            if stream is sys.stdout and status == 0:  # (a failed command has said why already)
                try:
                    sys.stderr.write(f"error: the output could not be written ({error})\n")
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
                status = 1
    os._exit(status)


if __name__ == "__main__":
    main()
