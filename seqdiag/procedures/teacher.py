"""teacher: every step fed the true previous symbol, state carried. What training with teacher forcing saw."""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="teacher",
    order=10,
    policy="teacher",
    state="carried",
    reaches_end=True,
    decoding="argmax",
    label="teacher-forced",
    description="every step is fed the true previous symbol (what teacher-forced training saw)",
)
