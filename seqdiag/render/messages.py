"""One-line messages on stderr: errors, warnings and notes, so that the CLI never builds Rich objects itself."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """`error: message` on stderr, the prefix in bold red; soft-wrapped so a long line stays one line."""
    _stderr().print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def print_warning(message: str) -> None:
    """A warning line on stderr, in yellow."""
    _stderr().print(Text(message, style="yellow"), soft_wrap=True)


def print_info(message: str) -> None:
    """A plain line on stderr (what is being done now)."""
    _stderr().print(Text(message), soft_wrap=True)
