"""The training history: snapshots of every procedure's output, and what they say about stability.

The 2015 symptom, "occasionally it alternates, then reverts", is a property of the history, not of
the final model: a procedure whose output keeps changing between checkpoints is not fixed by training.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqdiag import judgement, procedures
from seqdiag.table import Cell, CellValue, Column, Row, TableSpec, assemble, marked, styled

HISTORY_WIDTH = 31  # characters of each output the history table shows at most: three such columns fit in 120


@dataclass(frozen=True)
class Snapshot:
    """Every procedure's output for one model at one training step (after `step` updates)."""

    step: int
    loss: float
    outputs: dict[str, str]
    accuracy: dict[str, float]


def is_right(output: str, targets: str, prompt: int = 0) -> bool:
    """Whether the pattern (every judged target but the end symbol) came out right, in every sequence.

    The end symbol is judged apart (`seqdiag.judgement`): it needs counting, which is learned much later, and
    the zeros procedure never reaches it; mixing it in would hide the pattern's own stability.
    """
    return judgement.all_patterns_right(output, targets, prompt)


@dataclass(frozen=True)
class HistoryStats:
    """How one procedure's output behaved across the checkpoints of one model."""

    mode: str
    checkpoints: int
    right: int  # checkpoints at which the pattern was right
    changes: int  # times the output differed from the previous checkpoint
    reverts: int  # times a right output was followed by a wrong one
    right_steps: list[int]  # the steps of the right checkpoints
    stable_from: int | None  # first step from which it stays right to the end; None if never
    changes_second_half: int


def history_stats(history: list[Snapshot], mode: str, targets: str, prompt: int = 0) -> HistoryStats:
    outputs = [s.outputs[mode] for s in history]
    right = [is_right(o, targets, prompt) for o in outputs]
    changed = [a != b for a, b in zip(outputs, outputs[1:], strict=False)]
    half = len(history) // 2
    stable_from = None
    for i in range(len(right) - 1, -1, -1):
        if not right[i]:
            break
        stable_from = history[i].step
    return HistoryStats(
        mode=mode,
        checkpoints=len(history),
        right=sum(right),
        changes=sum(changed),
        reverts=sum(a and not b for a, b in zip(right, right[1:], strict=False)),
        right_steps=[s.step for s, r in zip(history, right, strict=True) if r],
        stable_from=stable_from,
        changes_second_half=sum(changed[max(0, half - 1) :]),
    )


def output_mark(output: str, targets: str) -> Cell:
    """After an output: ✓ where every symbol is right, else ✗ and the first wrong step (no colour needed)."""
    wrong = next((t for t, (got, want) in enumerate(zip(output, targets, strict=False)) if got != want), None)
    if wrong is None and len(output) >= len(targets):
        return styled(" ✓", "good")
    return styled(f" ✗{len(output) if wrong is None else wrong}", "bad")


def history_table(
    history: list[Snapshot],
    stats: dict[str, HistoryStats],
    names: list[str],
    targets: str,
    *,
    sequence: int | None = None,
    max_rows: int = 16,
    width: int = 120,
) -> TableSpec:
    """Each procedure's output at the checkpoints where anything changed, plus change counts and right shares.

    `names` are the procedures run (the columns are those with a column of their own, the consistency checks are
    counted in the caption); `sequence` picks one sequence's piece of outputs that join several; the outputs are
    cut to fit `width` (the console's), so that step and loss always keep their columns.
    """
    keep = (
        [0] + [i for i in range(1, len(history)) if history[i].outputs != history[i - 1].outputs] + [len(history) - 1]
    )
    keep = sorted(set(keep))
    if len(keep) > max_rows:  # keep the first, the last, and evenly spread changes between
        inner = keep[1:-1]
        stride = len(inner) / (max_rows - 2)
        keep = [keep[0], *[inner[int(i * stride)] for i in range(max_rows - 2)], keep[-1]]
    shown_modes = [m for m in names if m in procedures.COLUMNS and history and m in history[0].outputs]
    checks = ""
    for name in names:
        check = procedures.get(name).same_as
        if check is not None and history and name in history[0].outputs and check in history[0].outputs:
            same = sum(s.outputs[name] == s.outputs[check] for s in history)
            checks += f" · {name} = {check} at {same}/{len(history)} checkpoints"

    def piece(output: str) -> str:
        if sequence is None:
            return output
        pieces = judgement.split(output)
        return pieces[sequence] if sequence < len(pieces) else ""

    # step (8: the "reverted" label) + loss (6) + the ✗NN mark (4) per output + the table's edges (2) and the gaps
    # between its columns (3: a rule and a space either side)
    room = (width - 8 - 6 - 2 - 3 * (len(shown_modes) + 1)) // max(1, len(shown_modes)) - 4
    cut = max(8, min(HISTORY_WIDTH, room))
    rows = []
    for i in keep:
        snap = history[i]
        cells: list[CellValue] = [str(snap.step), f"{snap.loss:.4f}"]
        for m in shown_modes:
            output = piece(snap.outputs.get(m, ""))
            cells.append(assemble(marked(output, targets, cut), output_mark(output, targets)))
        rows.append(Row(tuple(cells)))
    summaries = (  # numbers alone, so that a summary cell is never wider than an output
        ("changes", lambda s: f"{s.changes}×"),
        ("right", lambda s: f"{s.right}/{s.checkpoints}"),
        ("reverted", lambda s: f"{s.reverts}×"),
    )
    for k, (label, value) in enumerate(summaries):
        rows.append(Row((label, "", *[value(stats[m]) for m in shown_modes]), style="strong", section=k == 0))
    return TableSpec(
        title="Through training",
        caption=f"{len(history)} checkpoints, shown where an output changed"
        + (f" ({len(keep)} rows)" if len(keep) < len(history) else "")
        + f" · ✓ = all right, ✗k = first wrong at position k (in red) · changes = checkpoints whose output"
        f" changed · right = checkpoints with the pattern right · reverted = right→wrong{checks}"
        + (f" · outputs cut to {cut - 1} symbols (whole in --json)" if len(targets) > cut else ""),
        columns=(
            Column("step", justify="right", no_wrap=True, min_width=4),
            Column("loss", justify="right", no_wrap=True, min_width=6),
            *(Column(mode) for mode in shown_modes),  # outputs are cut to fit; the summary rows below may wrap
        ),
        rows=tuple(rows),
        max_width=width,
    )
