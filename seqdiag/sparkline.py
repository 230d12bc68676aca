"""Curves as one line of text: a loss sparkline and per-procedure "right at checkpoint" strips.

Pure functions over numbers; the rendering layer colours the result. A strip and the loss line share their
columns: column i covers the same checkpoints in both, so a jump in the loss lines up with a flip in a strip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seqdiag.history import Snapshot, is_right

BLOCKS = "▁▂▃▄▅▆▇█"
MAX_CELLS = 60  # columns of a glance line; more checkpoints are grouped


def sparkline(values: Sequence[float], low: float | None = None, high: float | None = None, log: bool = False) -> str:
    """One block character per value, from ▁ (low) to █ (high); a value that is not finite is a space.

    `low`/`high` default to the finite values' range; a flat series is drawn at the bottom. With `log`, values
    are placed on a log scale (non-positive values count as not finite).
    """

    def scale(v: float) -> float | None:
        if log:
            return math.log(v) if v > 0 and math.isfinite(v) else None
        return v if math.isfinite(v) else None

    scaled = [scale(v) for v in values]
    finite = [v for v in scaled if v is not None]
    if not finite:
        return " " * len(values)
    lo = scale(low) if low is not None else min(finite)
    hi = scale(high) if high is not None else max(finite)
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    # Halved before subtracting: hi - lo of two huge finite floats can overflow to inf (and inf / inf is NaN).
    half_span = hi / 2 - lo / 2
    out = []
    for v in scaled:
        if v is None:
            out.append(" ")
            continue
        fraction = 0.0 if half_span <= 0 else (min(max(v, lo), hi) / 2 - lo / 2) / half_span
        out.append(BLOCKS[round(fraction * (len(BLOCKS) - 1))])
    return "".join(out)


def groups(count: int, cells: int) -> list[range]:
    """Split indices 0..count-1 into at most `cells` contiguous, nearly equal groups, in order."""
    cells = max(1, min(cells, count))
    bounds = [round(i * count / cells) for i in range(cells + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@dataclass(frozen=True)
class HistoryGlance:
    """The history as columns: each column one checkpoint, or a group of consecutive checkpoints."""

    first_step: int
    last_step: int
    checkpoints_per_cell: int  # the largest group; 1 when every checkpoint has its own column
    loss: str  # sparkline (log scale) of the mean training loss over each column's steps
    loss_first: float
    loss_last: float
    right: dict[str, list[float]]  # per procedure, per column: share of its checkpoints with the pattern right


def history_glance(
    history: Sequence[Snapshot],
    losses: Sequence[float],
    modes: Sequence[str],
    targets: str,
    cells: int = MAX_CELLS,
    prompt: int = 0,
) -> HistoryGlance | None:
    """Columns aligned on the checkpoints; None without a history.

    The loss of a column is the mean of the per-step losses from its first checkpoint up to the next column's
    (the snapshot's own loss where no per-step loss covers it, e.g. the final checkpoint).
    """
    if not history:
        return None
    cols = groups(len(history), cells)
    loss_cells = []
    for i, col in enumerate(cols):
        start = history[col.start].step
        end = history[cols[i + 1].start].step if i + 1 < len(cols) else history[-1].step + 1
        window = [v for v in losses[start:end] if math.isfinite(v)]
        loss_cells.append(sum(window) / len(window) if window else history[col.start].loss)
    right = {
        mode: [sum(is_right(history[j].outputs[mode], targets, prompt) for j in col) / len(col) for col in cols]
        for mode in modes
        if mode in history[0].outputs
    }
    return HistoryGlance(
        first_step=history[0].step,
        last_step=history[-1].step,
        checkpoints_per_cell=max(len(c) for c in cols),
        loss=sparkline(loss_cells, log=True),
        loss_first=history[0].loss,
        loss_last=history[-1].loss,
        right=right,
    )
