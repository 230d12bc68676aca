"""The `seqdiag` command's entry point: stop signals are handled before anything heavy is imported.

A Ctrl-C in the first moments (while typer, rich or torch are being imported) exits 130 quietly instead of
printing a KeyboardInterrupt traceback; SIGTERM and SIGHUP unwind like Ctrl-C (see seqdiag.interrupt).
"""

from __future__ import annotations

import sys


def main() -> None:
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


if __name__ == "__main__":
    main()
