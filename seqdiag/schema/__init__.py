"""The JSON Schema of every command's --json output, shipped in the package (seqdiag.schema.json).

`SCHEMA_VERSION` is the version that file documents; every --json output carries it as `schema_version`.
Bump both together on an incompatible change (a key removed, renamed or retyped); new keys need no bump.

Lists defined elsewhere are filled in on loading, not copied into the file: `procedure_name` gets the names of
the procedure registry (`seqdiag.procedures`) as its enum. `python -m seqdiag.schema` prints the complete
schema, to save or hand to another tool.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMA_VERSION = 1
SCHEMA_FILE = "seqdiag.schema.json"


def load_schema() -> dict[str, Any]:
    """The complete schema as a dict (draft 2020-12): the installed file, with the procedure registry's names as
    the enum of `procedure_name`."""
    from seqdiag import procedures

    schema = json.loads(resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
    schema["$defs"]["procedure_name"]["enum"] = list(procedures.NAMES)
    return schema
