"""Per-sequence outcomes: every procedure on every sequence of the task, one row per sequence, and totals.

With one sequence this is one row; with a file of many, it says which sequences each procedure gets right,
where each first goes wrong, and which sequence goes wrong first (the one `compare` details step by step,
unless `--show N` picks another).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqdiag import judgement, procedures
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding
from seqdiag.sampling import run_procedure_on_set
from seqdiag.sequence import SequenceSet
from seqdiag.table import CellValue, Column, Row, TableSpec, styled

MAX_SEQUENCE_ROWS = 40  # the per-sequence table shows at most this many rows (all are in --json)


@dataclass(frozen=True)
class Outcome:
    """One procedure on one sequence."""

    output: str
    correct: int  # judged targets right
    judged: int  # targets judged (all but the prompt's)
    first_divergence: int | None


@dataclass(frozen=True)
class SequenceRow:
    index: int
    text: str  # the sequence's symbols (its targets without the end symbol)
    outcomes: dict[str, Outcome]  # per procedure column


@dataclass(frozen=True)
class Outcomes:
    marker: str  # the start and end symbol
    source: str  # where the sequences came from, in words
    prompt: int
    procedures: list[str]
    rows: list[SequenceRow]
    goes_wrong_first: int | None  # the row whose free-running output (then teacher-forced, then any) diverges first

    @property
    def targets(self) -> str:
        """Every sequence's targets, joined as the history holds outputs (`seqdiag.judgement`)."""
        return judgement.join(r.text + self.marker for r in self.rows)

    def total(self, procedure: str) -> tuple[int, int]:
        """(right, judged) over every sequence."""
        return (
            sum(r.outcomes[procedure].correct for r in self.rows),
            sum(r.outcomes[procedure].judged for r in self.rows),
        )

    def all_right(self, procedure: str) -> int:
        """Sequences whose every judged target the procedure gets right."""
        return sum(r.outcomes[procedure].first_divergence is None for r in self.rows)

    def table(self, shown: int) -> TableSpec | None:
        """With several sequences: one row per sequence (`>` marks `shown`, the one detailed below), each procedure
        column's right/judged and first divergence, then the totals. None for one sequence."""
        if len(self.rows) < 2:
            return None
        given = (
            ""
            if not self.prompt
            else " · the first symbol of each is given"
            if self.prompt == 1
            else f" · the first {self.prompt} symbols of each are given"
        )
        more = len(self.rows) - MAX_SEQUENCE_ROWS
        columns = [name for name in self.procedures if name in procedures.COLUMNS]
        rows = []
        for row in self.rows[:MAX_SEQUENCE_ROWS]:
            cells: list[CellValue] = [(">" if row.index == shown else "") + str(row.index), row.text[:30]]
            for name in columns:
                x = row.outcomes[name]
                where = "" if x.first_divergence is None else f" @{x.first_divergence}"
                cells.append(styled(f"{x.correct}/{x.judged}{where}", "good" if x.first_divergence is None else "bad"))
            rows.append(Row(tuple(cells)))
        totals: list[CellValue] = ["", styled("total", "strong")]
        for name in columns:
            right, judged = self.total(name)
            totals.append(styled(f"{right}/{judged} · {self.all_right(name)}/{len(self.rows)} all right", "strong"))
        rows.append(Row(tuple(totals), section=True))
        return TableSpec(
            title=f"Per sequence: {self.source}",
            caption=f"cell = right/judged · @ first divergence · start/end marker {self.marker!r}{given} · "
            f"> = detailed below (sequence {shown}"
            + (", the one that goes wrong first" if shown == self.goes_wrong_first else "")
            + (", none goes wrong" if self.goes_wrong_first is None else "")
            + "; --show N for another)"
            + (f" · {more} more rows in --json" if more > 0 else ""),
            columns=(
                Column("#", justify="right", style="muted"),
                Column("sequence", keep=True),
                *(Column(name) for name in columns),  # wrap between their numbers, never inside one
            ),
            rows=tuple(rows),
        )


def _never_last(step: int | None) -> float:
    return float("inf") if step is None else step


def outcomes(model: SequenceModel, sequences: SequenceSet, decoding: Decoding = Decoding(), seed: int = 0) -> Outcomes:
    """Run every procedure column on every sequence at once (model 0 of the stack) and judge each row."""
    generator = torch.Generator().manual_seed(seed)
    symbols = sequences.vocabulary.symbols
    prompt = sequences.prompt
    names = list(procedures.NAMES)
    per: dict[str, list[str]] = {}
    for name in names:
        spec = procedures.get(name)
        predicted = run_procedure_on_set(model, sequences, name, decoding, generator=generator).predicted[0]
        per[name] = [
            "".join(symbols[i] for i in row[: spec.steps(s.steps)])
            for row, s in zip(predicted.tolist(), sequences.sequences, strict=True)
        ]
    rows = []
    for i, s in enumerate(sequences.sequences):
        targets = s.target_text()
        rows.append(
            SequenceRow(
                index=i,
                text=targets[:-1],
                outcomes={
                    name: Outcome(
                        output=per[name][i],
                        correct=judgement.correct(per[name][i], targets, prompt),
                        judged=judgement.judged_targets(targets, prompt),
                        first_divergence=judgement.first_divergence(per[name][i], targets, prompt),
                    )
                    for name in names
                },
            )
        )

    def key(r: SequenceRow) -> tuple[float, ...]:
        free = r.outcomes["free"].first_divergence if "free" in r.outcomes else None
        teacher = r.outcomes["teacher"].first_divergence if "teacher" in r.outcomes else None
        anyone = min((_never_last(x.first_divergence) for x in r.outcomes.values()), default=float("inf"))
        return (_never_last(free), _never_last(teacher), anyone, r.index)

    first = min(rows, key=key)
    wrong = any(x.first_divergence is not None for x in first.outcomes.values())
    return Outcomes(sequences.task.marker, sequences.task.source, prompt, names, rows, first.index if wrong else None)
