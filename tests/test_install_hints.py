"""The name `seqdiag` on the package index is another project: nothing seqdiag prints or documents may tell a user
to install it. Extras come from the checkout (`pip install -e '.[plot]'`) or by the package they need."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `pip install seqdiag`, `pip install 'seqdiag[plot]'`, `pip install "seqdiag\\[fast]"`, with or without -U.
BARE = re.compile(r"""pip install\s+(?:-\S+\s+)*['"]?seqdiag(?:\\?\[|['"\s]|$)""", re.MULTILINE)


def _texts() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "seqdiag").rglob("*.py")), *sorted((ROOT / "docs").rglob("*.py"))]
    return [f for f in files if f.is_file()]


def test_the_pattern_catches_each_form_of_the_bare_name():
    for text in ["pip install seqdiag", "pip install 'seqdiag[plot]'", 'pip install -U "seqdiag\\[fast]"']:
        assert BARE.search(text), text
    for text in ["pip install -e '.[plot]'", "pip install seqdiag-sampling", "pip install numba"]:
        assert not BARE.search(text), text


def test_no_file_tells_a_user_to_install_the_bare_name():
    offenders = [f"{f.relative_to(ROOT)}: {m.group(0)}" for f in _texts() for m in BARE.finditer(f.read_text())]
    assert offenders == []
