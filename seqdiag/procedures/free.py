"""free: the start symbol, then the model's own previous prediction fed back, state carried. The fix."""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="free",
    order=20,
    policy="free",
    state="carried",
    reaches_end=True,
    decoding="configured",
    label="free-running",
    description="S, then its own predictions fed back as inputs, state carried (the fix)",
)
