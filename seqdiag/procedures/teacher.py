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
    description="fed the true previous symbol, as teacher-forced training is",
)
