"""Rewrite the golden files from what the commands print now: python tests/golden/regenerate.py [CASE ...]

Run it after a change that is meant to change the output (a finding's text, a table, the numerics of an engine),
then read the diff (git diff tests/golden) before committing: the diff is the review.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cases import CASES, golden_path, render_case  # noqa: E402


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    for case in names or CASES:
        path = golden_path(case)
        text = render_case(case)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'rewrote' if changed else 'unchanged'} {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
