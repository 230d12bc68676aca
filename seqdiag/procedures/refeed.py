"""refeed: free-running without carried state; each step re-runs the whole prefix from a zero state.

What a model that keeps no state between calls needs (Keras users wrote it in 2015); it must agree with `free`
position for position.
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
    description="like free, but re-runs the prefix from a zero state at each position",
    same_as="free",
)
