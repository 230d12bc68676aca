"""The verdict's names where they were first defined; the findings now live in `seqdiag.findings`."""

from seqdiag.findings import Evidence, Finding, Verdict, diagnose

__all__ = ["Evidence", "Finding", "Verdict", "diagnose"]
