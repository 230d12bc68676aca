"""The JSON Schema of every command's --json output, shipped in the package (seqdiag.schema.json).

`SCHEMA_VERSION` is the version that file documents; every --json output carries it as `schema_version`.
Bump both together on an incompatible change (a key removed, renamed or retyped); new keys need no bump.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMA_VERSION = 1
SCHEMA_FILE = "seqdiag.schema.json"


def load_schema() -> dict[str, Any]:
    """The schema as a dict (draft 2020-12), read from the installed package."""
    return json.loads(resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
