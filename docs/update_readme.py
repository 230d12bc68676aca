"""Regenerate the README's real `seqdiag compare` excerpt (never hand-edit it).

    python docs/update_readme.py            # runs `seqdiag compare` on the default and rewrites the excerpt
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- compare-excerpt:start -->", "<!-- compare-excerpt:end -->"
KEEP_HEAD, KEEP_TAIL = 6, 4  # per-step rows kept at each end of the table


def trim_per_step(lines: list[str]) -> list[str]:
    """Keep the first and last rows of the per-step table; the middle repeats the pattern."""
    rows = [i for i, line in enumerate(lines) if re.match(r"^\s+\d+\s{2,}\S", line) and "→" in line]
    if len(rows) <= KEEP_HEAD + KEEP_TAIL:
        return lines
    cut_from, cut_to = rows[KEEP_HEAD], rows[-KEEP_TAIL]
    return [*lines[:cut_from], "  …", *lines[cut_to:]]


def main() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seqdiag", "compare"], capture_output=True, text=True, check=True
    ).stdout
    lines = [line.rstrip() for line in out.splitlines()]
    excerpt = "\n".join(trim_per_step(lines))
    text = README.read_text()
    block = f"{START}\n```text\n{excerpt}\n```\n{END}"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{README}: markers {START} / {END} not found")
    README.write_text(pattern.sub(lambda _: block, text))
    print(f"updated {README}")


if __name__ == "__main__":
    main()
