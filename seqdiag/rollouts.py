"""Stochastic rollouts: free-running sampled N times (one batch), as distributions, not one lucky draw.

With a temperature above 0, free-running feeds back a sampled symbol, so one rollout says little. This
runs N rollouts of a procedure at once (`run_procedure(..., rollouts=N)`) and summarises the first
divergence step and the accuracy over them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag import judgement
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding, Rollout
from seqdiag.sampling import run_procedure
from seqdiag.sequence import ToySequence
from seqdiag.table import Column, Row, TableSpec


@dataclass(frozen=True)
class RolloutStats:
    """One procedure over N rollouts of one model."""

    mode: str
    rollouts: int
    temperature: float
    top_k: int
    accuracy_mean: float
    accuracy_min: float
    accuracy_quartiles: list[float]  # 25%, 50%, 75%
    all_right: int  # rollouts with every target right
    pattern_right: int  # rollouts with every pattern target right (end symbol aside)
    end_symbol_right: int
    divergence_quartiles: list[float] | None  # over the rollouts that diverged
    divergence_histogram: list[tuple[int, int, int]]  # (from step, to step, rollouts), over those that diverged
    distinct_outputs: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def table(self) -> TableSpec:
        """The first divergence's distribution over the rollouts, as a histogram; the rest in the caption."""
        top = max((count for _, _, count in self.divergence_histogram), default=0)
        rows = [Row((f"{lo}–{hi}", str(count), "█" * round(30 * count / top) if top else "")) for lo, hi, count in
                self.divergence_histogram]  # fmt: skip
        rows.append(Row(("never", str(self.all_right), "")))
        return TableSpec(
            title=f"{self.rollouts} {self.mode} rollouts at temperature {self.temperature:g}, "
            f"top-k {self.top_k or 'all'}",
            caption=f"{self.all_right}/{self.rollouts} all right · pattern right {self.pattern_right} · end symbol "
            f"right {self.end_symbol_right} · {self.distinct_outputs} distinct outputs · accuracy mean "
            f"{self.accuracy_mean:.2f}, quartiles {' / '.join(f'{q:.2f}' for q in self.accuracy_quartiles)}",
            columns=(
                Column("first divergence at steps", keep=True),
                Column("rollouts", justify="right"),
                Column("", no_wrap=True),
            ),
            rows=tuple(rows),
        )


def _quartiles(values: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in torch.quantile(values.float(), torch.tensor([0.25, 0.5, 0.75]))]


def stats_of(
    rollout: Rollout, sequence: ToySequence, mode: str, decoding: Decoding, model_index: int = 0, bins: int = 6
) -> RolloutStats:
    """Summarise every rollout of one model in a batched `Rollout`."""
    predicted = rollout.predicted[model_index].cpu()  # (B, T')
    targets = sequence.targets  # (T,)
    prompt = sequence.prompt
    b, steps = predicted.shape
    hits = predicted == targets[:steps]  # (B, T')
    hits[:, :prompt] = True  # given, not judged
    accuracy = judgement.correct_batch(predicted, targets, prompt).float() / (targets.numel() - prompt)
    first = judgement.first_divergence_batch(predicted, targets, prompt)  # (B,), -1 = none
    diverged = first >= 0
    first_diverged = first[diverged]
    histogram: list[tuple[int, int, int]] = []
    if first_diverged.numel():
        width = max(1, -(-targets.numel() // bins))
        for lo in range(0, targets.numel(), width):
            hi = min(lo + width, targets.numel()) - 1
            count = int(((first_diverged >= lo) & (first_diverged <= hi)).sum())
            histogram.append((lo, hi, count))
    pattern_steps = min(steps, targets.numel() - 1)
    pattern_right = hits[:, :pattern_steps].all(1) & (pattern_steps == targets.numel() - 1)
    end_right = hits[:, -1] if steps == targets.numel() else torch.zeros(b, dtype=torch.bool)
    return RolloutStats(
        mode=mode,
        rollouts=b,
        temperature=decoding.temperature,
        top_k=decoding.top_k,
        accuracy_mean=round(float(accuracy.mean()), 4),
        accuracy_min=round(float(accuracy.min()), 4),
        accuracy_quartiles=_quartiles(accuracy),
        all_right=int((~diverged).sum()),
        pattern_right=int(pattern_right.sum()),
        end_symbol_right=int(end_right.sum()),
        divergence_quartiles=_quartiles(first_diverged) if first_diverged.numel() else None,
        divergence_histogram=histogram,
        distinct_outputs=len({tuple(row) for row in predicted.tolist()}),
    )


def rollout_stats(
    model: SequenceModel,
    sequence: ToySequence,
    decoding: Decoding,
    rollouts: int,
    seed: int = 0,
    mode: str = "free",
) -> tuple[RolloutStats, Rollout]:
    """Run `mode` `rollouts` times in one batch; returns the summary and the batched rollout itself."""
    generator = torch.Generator().manual_seed(seed)
    rollout = run_procedure(model, sequence, mode, decoding, rollouts=rollouts, generator=generator)
    return stats_of(rollout, sequence, mode, decoding), rollout
