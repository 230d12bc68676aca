"""fresh: free-running with a fresh state every step, the model's own prediction fed back but nothing carried.

A mistake users make: calling the model on one input at a time without passing its state on (e.g. a new
`model(x)` per step, or a hidden state re-initialised inside the loop). The model then sees a single symbol
and can only do what a lookup on that symbol does.
"""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="fresh",
    order=50,
    policy="free",
    state="fresh",
    reaches_end=True,
    decoding="configured",
    label="free, fresh state",
    description="like free, but the state is never passed on (a common bug)",
)
