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
