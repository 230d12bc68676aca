"""The policy matrix: one model per training input policy, each sampled by every procedure.

Rows are what training fed (teacher, free, zeros, scheduled), columns what sampling feeds (teacher,
free, zeros). Every model is trained from the same config and seed; only `train.policy` differs. The
cells that train as they sample form the diagonal (scheduled sampling ends feeding predictions, so its
diagonal is free-running); the 2015 failure is an off-diagonal cell: trained on teacher, sampled on zeros.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from seqdiag import procedures
from seqdiag.config import Config
from seqdiag.probes import InputReliance, input_reliance_over
from seqdiag.recovery import (
    DEFAULT_INJECT_AT,
    Recovery,
    every_sequence_json,
    inject_and_recover,
    recover_every_sequence,
)
from seqdiag.sampling import run_procedure, trace_of
from seqdiag.table import CellValue, Column, Row, Span, TableSpec, assemble, mark
from seqdiag.train import TrainResult, training_policy


def diagonal_procedure(train_policy: str) -> str | None:
    """The procedure that samples as `train_policy` trained: the one feeding the same input policy with carried
    state; scheduled sampling ends feeding predictions, so its diagonal is free-running."""
    return procedures.carried("free" if train_policy == "scheduled" else train_policy)


@dataclass(frozen=True)
class MatrixCell:
    train: str
    sample: str
    accuracy: float  # share of all targets right
    correct: int
    targets: int
    pattern_accuracy: float
    end_symbol: bool | None  # None: the procedure never reaches the end symbol's step
    first_divergence: int | None
    output: str

    @property
    def diagonal(self) -> bool:
        return diagonal_procedure(self.train) == self.sample

    @property
    def pattern_right(self) -> bool:
        return self.pattern_accuracy == 1.0


@dataclass(frozen=True)
class PolicyRow:
    """What one training policy's model did apart from the cells."""

    train: str
    final_loss: float
    steps: int
    final_epsilon: float | None  # scheduled sampling: the chance of the true symbol at the last step
    recovery: Recovery
    reliance: InputReliance
    recoveries: list[Recovery] | None = None  # with several sequences: error recovery on each, in task order


@dataclass(frozen=True)
class PolicyMatrix:
    policies: list[str]
    samples: list[str]
    cells: list[MatrixCell]
    rows: list[PolicyRow]

    def cell(self, train: str, sample: str) -> MatrixCell:
        return next(c for c in self.cells if c.train == train and c.sample == sample)

    def row(self, train: str) -> PolicyRow:
        return next(r for r in self.rows if r.train == train)

    def to_json(self) -> dict[str, Any]:
        """`matrix` (one object per cell) and `matrix_policies` (one per training policy)."""
        return {
            "matrix": [
                {
                    "train": c.train,
                    "sample": c.sample,
                    "accuracy": c.accuracy,
                    "end_symbol": c.end_symbol,
                    "first_divergence": c.first_divergence,
                    "correct": c.correct,
                    "targets": c.targets,
                    "pattern_accuracy": c.pattern_accuracy,
                    "diagonal": c.diagonal,
                    "output": c.output,
                }
                for c in self.cells
            ],
            "matrix_policies": [
                {
                    "train": r.train,
                    "final_loss": r.final_loss,
                    "steps": r.steps,
                    "recovery": r.recovery.to_json(),
                    "reliance": r.reliance.to_json(),
                    **({} if r.recoveries is None else {"recovery_sequences": every_sequence_json(r.recoveries)}),
                }
                for r in self.rows
            ],
        }

    def table(self) -> TableSpec:
        """Rows = training policies, columns = procedures; a cell is right/targets, the end symbol and the first
        divergence, the diagonal in bold with a `*` (visible in plain text and exports too)."""
        rows = []
        for policy in self.policies:
            eps = self.row(policy).final_epsilon
            cells: list[CellValue] = [policy if eps is None else f"{policy} (ε→{eps:.2f})"]
            for sample in self.samples:
                c = self.cell(policy, sample)
                where = "none" if c.first_divergence is None else f"@{c.first_divergence}"
                cells.append(
                    assemble(
                        f"{c.correct}/{c.targets}",
                        " end ",
                        mark(c.end_symbol),
                        Span(f" · {where}", "muted"),
                        *([Span(" *", "strong")] if c.diagonal else []),
                        style="good" if c.pattern_right else "bad",
                        overlay="strong" if c.diagonal else "",
                    )
                )
            cells.append(f"{self.row(policy).final_loss:.4f}")
            rows.append(Row(tuple(cells)))
        return TableSpec(
            title="Policy matrix: rows = what training fed, columns = what sampling feeds",
            caption="cell = right/targets · end symbol ✓/✗ (— never reached) · first divergence · * (bold) = "
            "diagonal (sampled as trained; scheduled ends feeding predictions, so its diagonal is free)",
            columns=(
                Column("train", style="strong", keep=True),
                *(Column(sample) for sample in self.samples),  # wrap between their numbers, never inside one
                Column("final loss", justify="right"),
            ),
            rows=tuple(rows),
        )


def policy_config(config: Config, policy: str) -> Config:
    """The same run with only the training policy changed."""
    return config.replace(train=dataclasses.replace(config.train, policy=policy))


def build_matrix(
    results: dict[str, TrainResult], inject_at: tuple[int, ...] | list[int] = DEFAULT_INJECT_AT
) -> PolicyMatrix:
    """Sample every trained model with every procedure (argmax), inject errors, and ablate its input."""
    cells: list[MatrixCell] = []
    rows: list[PolicyRow] = []
    for policy, result in results.items():
        model, sequence = result.model, result.sequence
        for mode in procedures.COLUMNS:
            trace = trace_of(run_procedure(model, sequence, mode), sequence, mode)
            cells.append(
                MatrixCell(
                    train=policy,
                    sample=mode,
                    accuracy=round(trace.accuracy, 6),
                    correct=trace.correct_count,
                    targets=len(trace.targets),
                    pattern_accuracy=round(trace.pattern_accuracy, 6),
                    end_symbol=trace.end_symbol,
                    first_divergence=trace.first_divergence,
                    output=trace.output,
                )
            )
        history = result.history
        rows.append(
            PolicyRow(
                train=policy,
                # The final model's loss, as the history and the verdict report it (not the last step's,
                # which was taken before that step's update).
                final_loss=history[-1].loss if history else float("nan"),
                steps=result.steps_done,
                final_epsilon=training_policy(result.config.train, result.steps_done).epsilon
                if policy == "scheduled"
                else None,
                recovery=inject_and_recover(model, sequence, inject_at),
                reliance=input_reliance_over(model, result.task.sequences),
                recoveries=recover_every_sequence(model, result.task.sequences, inject_at)
                if len(result.task.sequences) > 1
                else None,
            )
        )
    return PolicyMatrix(list(results), list(procedures.COLUMNS), cells, rows)
