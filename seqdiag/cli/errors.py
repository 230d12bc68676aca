"""How the command line fails: one `error:` line on stderr and an exit code, never a traceback (unless --debug).

`OneLineErrors` is the app's Click group: usage errors, a closed stdout and stop signals outside a command;
`user_errors` wraps each command's body: seqdiag's own errors (exit 2 for bad input, 1 for a run that failed) and
stop signals (128 + the signal's number).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from seqdiag.errors import OutputClosed, RunFailure, SeqdiagError
from seqdiag.render.messages import print_error, print_warning


class OneLineErrors(TyperGroup):
    """Usage errors (an unknown option, a value not among the choices) as one `error:` line on stderr and exit
    code 2, like every other error, instead of Click's usage block."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **kwargs: Any,
    ) -> Any:
        passed = (args, prog_name, complete_var)
        from seqdiag.interrupt import forget_signals

        forget_signals()
        if not standalone_mode:
            return super().main(*passed, False, windows_expand_args, **kwargs)
        try:
            code = super().main(*passed, False, windows_expand_args, **kwargs)
        except OutputClosed:  # the reader closed stdout (| head): what it wanted is written; no error
            _silence_stdout()
            sys.exit(0)
        except SystemExit as done:
            # Rich and Click answer a reader that closed stdout during their own output (--help | head -1) with
            # exit 1: Rich raises it while handling the BrokenPipeError, Click after wrapping the streams (matched
            # by name, as below). The same case as OutputClosed.
            closed = isinstance(done.__context__, BrokenPipeError)
            if done.code == 1 and (closed or type(sys.stdout).__name__ == "PacifyFlushWrapper"):
                _silence_stdout()
                sys.exit(0)
            raise
        except _Interrupted as exc:
            from seqdiag.interrupt import exit_code

            print_warning("interrupted")
            sys.exit(exit_code(exc.__cause__ or KeyboardInterrupt()))
        except typer.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):  # a stop signal while Click parsed the arguments
                from seqdiag.interrupt import exit_code

                print_warning("interrupted")
                sys.exit(exit_code(exc.__cause__))
            print_warning("aborted")
            sys.exit(1)
        except Exception as exc:
            # Click's errors, matched by name as typer does: newer typer vendors Click under typer._click.
            kinds = {cls.__name__ for cls in type(exc).__mro__}
            if isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS:  # e.g. stdout on a full disk
                where = f"{exc.filename}: " if exc.filename else ""
                print_error(f"the output could not be written ({where}{exc.strerror or exc})")
                sys.exit(1)
            if "ClickException" not in kinds:
                raise
            if "NoArgsIsHelpError" not in kinds:  # that one's help is already shown
                ctx = getattr(exc, "ctx", None)
                hint = f" (see {ctx.command_path} --help)" if "UsageError" in kinds and ctx is not None else ""
                message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
                print_error(message + hint)
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if code == 130:  # typer answers a KeyboardInterrupt outside a command with 130, whichever signal it was
            from seqdiag.interrupt import last_signal

            code = 128 + (last_signal() or 2)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        # Click answers Ctrl-C with a blank line on stderr and "Aborted!"; one line and exit code 130 instead.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted from exc


# Failures to write (the command's own files are written atomically and report their own errors; what reaches
# the top is the output stream's).
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


class _Interrupted(Exception):
    """Ctrl-C outside a command's own handling (e.g. while importing torch)."""


def _silence_stdout() -> None:
    """After the reader closed stdout, point it at /dev/null so the interpreter's final flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. under a test runner): nothing to flush
        pass


@contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn known failures into one line on stderr and an exit code; --debug shows the traceback instead."""
    try:
        yield
    except (SeqdiagError, RunFailure) as exc:
        if debug:  # the traceback, and still the exit code a script tells failures apart by
            traceback.print_exc()
        else:
            print_error(str(exc))
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (seqdiag.interrupt): 128 + the signal's number
        from seqdiag.interrupt import exit_code

        if debug:
            traceback.print_exc()
        else:
            print_warning("interrupted")
        raise typer.Exit(code=exit_code(exc)) from None
