"""The long explanation of any finding id: those `compare` emits (the findings registry) and those `check` emits.

Neither registry imports torch, so `seqdiag explain` answers at once.
"""

from __future__ import annotations

from seqdiag.check.explanations import EXPLANATIONS as CHECK_EXPLANATIONS
from seqdiag.findings import explanation as compare_explanation
from seqdiag.findings import finding_ids as compare_ids


def finding_ids() -> list[str]:
    """Every finding id, `compare`'s then `check`'s, each group sorted."""
    return [*compare_ids(), *sorted(CHECK_EXPLANATIONS)]


def explanation(finding_id: str) -> str | None:
    """The long explanation of a finding id (for a `check` finding, with its fix), or None for an unknown id."""
    text = compare_explanation(finding_id)
    if text is not None:
        return text
    if finding_id in CHECK_EXPLANATIONS:
        long, fix = CHECK_EXPLANATIONS[finding_id]
        return f"{long}\n\nfix: {fix}"
    return None
