"""zeros: one pass over the start symbol followed by zero vectors, one output per pattern symbol.

The sampler of the Keras report this project reproduces (keras-team/keras#273): a single `predict` call on
`S` and zero vectors, nothing fed back.
"""

from seqdiag.procedures import Procedure

PROCEDURE = Procedure(
    name="zeros",
    order=30,
    policy="zeros",
    state="carried",
    reaches_end=False,
    decoding="argmax",
    label="zero inputs",
    description="your sampler: one predict on S then zero vectors; no end-symbol output",
)
