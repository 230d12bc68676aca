"""The depth sections of `compare`: each measurement (policy matrix, hidden-state drift, input reliance, error
recovery, counting and stability, stochastic rollouts) describes its own table (`seqdiag.report.depth_tables`);
this draws them. Each is drawn only when its measurement is in the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqdiag.render.table import FittedTable, draw

if TYPE_CHECKING:
    from seqdiag.report import CompareReport


def depth_tables(report: CompareReport) -> list[FittedTable]:
    """The depth sections, in reading order; the reliance table is always there."""
    from seqdiag.report import depth_tables as specs

    return [draw(spec) for spec in specs(report)]
