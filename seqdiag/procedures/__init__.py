"""The sampling procedures, each defined once in its own module of this package, and the registry of them.

A *procedure* is how a trained model is run to generate: which input policy feeds each step after the
start symbol (`seqdiag.policy`), what happens to the state between steps, how many steps it runs, and
whether the configured decoding (temperature, top-k) picks what is fed back. Everything that lists the
procedures (the CLI's `sample --mode` choices, training snapshots, compare, sweep, the policy matrix,
stability, plots, rendering and the JSON schema) reads this registry, so adding one is one new module here
(defining `PROCEDURE`) plus its test.

Words, as used in code, help and README:
- procedure: a sampling procedure (this registry); `sample --mode NAME` picks one (the option keeps its name).
- input policy: what one step is fed (teacher, free, zeros, scheduled); training and sampling share it.
- training policy: the input policy training feeds (`train.policy`).

This module imports no torch, so the CLI can list the choices before paying for the import.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Literal

StateHandling = Literal["carried", "prefix", "fresh"]
Decoding = Literal["argmax", "configured"]


@dataclass(frozen=True)
class Procedure:
    """One sampling procedure."""

    name: str
    """How the user names it (`seqdiag sample --mode NAME`, JSON keys, table columns)."""
    order: int
    """Where it goes among the others (columns, legends); the four historical ones are 10, 20, 30, 40."""
    policy: str
    """The input policy fed after the start symbol: teacher, free or zeros (see `seqdiag.policy`)."""
    state: StateHandling
    """carried: the state flows from step to step; prefix: each step re-runs everything fed so far from a zero
    state; fresh: each step starts from a zero state and sees only its own input."""
    reaches_end: bool
    """False for a procedure that runs one step per pattern symbol (the 2015 `maxlen`), so it has no step at
    which to emit the end symbol; True runs one step per target."""
    decoding: Decoding
    """argmax: always the most likely symbol (what it feeds never depends on the predictions, or it is a
    reference); configured: the run's sample.temperature / sample.top_k pick what is fed back."""
    label: str
    """A few words for legends and column headers."""
    description: str
    """One line in the user's terms."""
    same_as: str | None = None
    """A consistency check rather than a procedure of its own: it must agree step for step with this one, so
    tables and the policy matrix show the agreement instead of a column."""

    @property
    def carries_state(self) -> bool:
        return self.state == "carried"

    def steps(self, targets: int) -> int:
        """How many steps it runs for a sequence of `targets` targets."""
        return targets if self.reaches_end else targets - 1


def _discover() -> dict[str, Procedure]:
    found: list[Procedure] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(module.PROCEDURE)
    found.sort(key=lambda p: (p.order, p.name))
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two procedures share a name: {names}")
    return {p.name: p for p in found}


REGISTRY: dict[str, Procedure] = _discover()
NAMES: tuple[str, ...] = tuple(REGISTRY)
"""Every procedure's name, in order."""
COLUMNS: tuple[str, ...] = tuple(p.name for p in REGISTRY.values() if p.same_as is None)
"""The procedures shown as columns of their own (the consistency checks left out)."""


def get(name: str) -> Procedure:
    """The procedure called `name`.

    Raises:
        ValueError: no such procedure; the message lists the valid names.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown procedure {name!r}; valid: {', '.join(NAMES)}") from None


def carried(policy: str) -> str | None:
    """The procedure that feeds input policy `policy` with carried state: the one that samples as training fed."""
    return next((p.name for p in REGISTRY.values() if p.policy == policy and p.carries_state), None)
