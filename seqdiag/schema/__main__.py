"""`python -m seqdiag.schema`: print the complete JSON Schema (the registry's lists filled in)."""

import json

from seqdiag.schema import load_schema

print(json.dumps(load_schema(), indent=2))
