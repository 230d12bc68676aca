"""One-line messages on stderr: errors, warnings and notes, so that the CLI never builds Rich objects itself."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def escaped(text: str) -> str:
    """Control characters (terminal escape sequences) and lone surrogates shown as escapes, never sent raw."""
    return "".join(
        c
        if c.isprintable() or c == "\n"
        else c.encode("unicode_escape").decode("ascii")
        if not 0xD800 <= ord(c) <= 0xDFFF
        else f"\\u{ord(c):04x}"
        for c in text
    )


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """`error: message` on stderr, the prefix in bold red; soft-wrapped so a long line stays one line."""
    _stderr().print(Text("error: ", style="bold red") + Text(escaped(message)), soft_wrap=True)


def print_warning(message: str) -> None:
    """A warning line on stderr, in yellow."""
    _stderr().print(Text(escaped(message), style="yellow"), soft_wrap=True)


def print_info(message: str) -> None:
    """A plain line on stderr (what is being done now)."""
    _stderr().print(Text(escaped(message)), soft_wrap=True)
