"""refeed: free-running without carried state; each step re-runs the whole prefix from a zero state.

What 2015 Keras users had to write for a stateless model; it must agree with `free` step for step.
"""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="refeed",
    order=40,
    policy="free",
    state="prefix",
    reaches_end=True,
    decoding="configured",
    label="free, prefix re-run",
    description="like free, but every step re-runs the whole prefix from a fresh state (what 2015 users had to do)",
    same_as="free",
)
