"""zeros: the 2015 sampler exactly, one pass over the start symbol followed by zero vectors."""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="zeros",
    order=30,
    policy="zeros",
    state="carried",
    reaches_end=False,
    decoding="argmax",
    label="zero inputs",
    description="your 2015 sampler: one predict on S followed by zero vectors, one output per pattern symbol",
)
