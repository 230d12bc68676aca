"""Counting and stability: when the end symbol comes out, when it was learned, and late-training spikes.

The end symbol is judged apart from the pattern: it is often learned much later. This module measures,
from a finished run, where each procedure emits the end symbol, the learning curve of the pattern and of
the end symbol from the history, loss spikes after the loss first fell below a quarter of its start,
teacher-forced regressions (a right step lost between checkpoints), and the optimizer's final
denominators (kept as data; no mechanism is inferred from them).
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag import judgement, procedures
from seqdiag.history import Snapshot, is_right
from seqdiag.sampling import Trace
from seqdiag.table import Column, Row, TableSpec

SPIKE_WINDOW = 50  # a spike is judged against the median loss of the previous this many steps
SPIKE_FACTOR = 1.75  # ... and counts when the loss exceeds that median by this factor
SPIKE_MIN_RISE = 0.01  # ... and by at least this much in absolute terms (ignores noise at a tiny loss)
NEAR_CONVERGED = 0.25  # near-converged from the first step whose loss is below this share of the first loss
MERGE_GAP = 10  # spike steps this close together are one event


@dataclass(frozen=True)
class LearningCurve:
    """When one procedure's pattern, and apart from it its end symbol, came out right in the history."""

    mode: str
    checkpoints: int
    pattern_first_right: int | None
    pattern_stable_from: int | None
    end_first_right: int | None
    end_stable_from: int | None
    end_right: int  # checkpoints with the end symbol right


@dataclass(frozen=True)
class LossSpike:
    step: int
    loss: float
    baseline: float  # median of the previous SPIKE_WINDOW losses

    @property
    def ratio(self) -> float:
        return self.loss / self.baseline if self.baseline > 0 else float("inf")


@dataclass(frozen=True)
class Stability:
    end_step: dict[str, int | None]  # per procedure, the first step at which the end symbol is predicted
    target_step: int  # the step the end symbol is due
    curves: list[LearningCurve]
    near_converged_at: int | None
    spikes: list[LossSpike]  # one per event (the largest step of each), in step order
    spike_steps: int  # steps over the threshold, before merging into events
    teacher_flips: list[int]  # checkpoint steps where a teacher-forced step right before is wrong (teacher_regressions)
    optimizer: str
    lr: float
    eps: float
    denominator_median: float | None  # median over weights of sqrt(running squared gradient), at the end
    below_eps_share: float | None  # share of weights whose sqrt(running squared gradient) < eps

    def largest_spikes(self, count: int = 5) -> list[LossSpike]:
        return sorted(self.spikes, key=lambda s: -s.ratio)[:count]

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "spikes": [{**dataclasses.asdict(x), "ratio": round(x.ratio, 4)} for x in self.spikes],
        }

    def table(self) -> TableSpec:
        """Counting: per procedure, where it emits the end symbol and when its pattern and its end symbol were first
        right and stable in the history; the loss spikes and teacher-forced flips in the caption."""
        spikes = self.largest_spikes(3)
        caption = (
            f"end symbol due at step {self.target_step} · loss spikes after near-convergence: {len(self.spikes)}"
            + (" (largest at " + ", ".join(f"{x.step}: {x.ratio:.1f}×" for x in spikes) + ")" if spikes else "")
            + f" · teacher-forced flips after first right: {len(self.teacher_flips)}"
        )
        curves = {c.mode: c for c in self.curves}
        never = "never"
        rows = []
        for mode, step in self.end_step.items():
            c = curves.get(mode)
            learned = (
                ["—"] * 4
                if c is None
                else [
                    never if x is None else str(x)
                    for x in (c.pattern_first_right, c.pattern_stable_from, c.end_first_right, c.end_stable_from)
                ]
            )
            rows.append(Row((mode, never if step is None else f"step {step}", *learned)))
        headers = (
            "procedure",
            "end symbol predicted at",
            "pattern right from",
            "stable from",
            "end symbol right from",
            "stable from ",
        )
        return TableSpec(
            title="Counting: the end symbol apart from the pattern",
            caption=caption,
            columns=tuple(Column(h, justify="left" if h == "procedure" else "right", keep=True) for h in headers),
            rows=tuple(rows),
        )


def _first_and_stable(flags: list[bool], steps: list[int]) -> tuple[int | None, int | None]:
    first = next((s for s, f in zip(steps, flags, strict=True) if f), None)
    stable = None
    for s, f in zip(reversed(steps), reversed(flags), strict=True):
        if not f:
            break
        stable = s
    return first, stable


def learning_curve(history: list[Snapshot], mode: str, targets: str, prompt: int = 0) -> LearningCurve:
    steps = [s.step for s in history]
    outputs = [s.outputs[mode] for s in history]
    pattern = [is_right(o, targets, prompt) for o in outputs]
    end = [judgement.all_ends_right(o, targets) for o in outputs]
    pf, ps = _first_and_stable(pattern, steps)
    ef, es = _first_and_stable(end, steps)
    return LearningCurve(mode, len(history), pf, ps, ef, es, sum(end))


def loss_spikes(losses: list[float]) -> tuple[int | None, list[LossSpike], int]:
    """(near-converged step, one spike per event, steps over the threshold) from every step's loss."""
    if not losses:
        return None, [], 0
    threshold = NEAR_CONVERGED * losses[0]
    near = next((i for i, v in enumerate(losses) if v < threshold), None)
    if near is None:
        return None, [], 0
    over: list[LossSpike] = []
    for s in range(max(near, SPIKE_WINDOW), len(losses)):
        baseline = statistics.median(losses[s - SPIKE_WINDOW : s])
        if losses[s] > SPIKE_FACTOR * baseline and losses[s] - baseline > SPIKE_MIN_RISE:
            over.append(LossSpike(s, losses[s], baseline))
    events: list[LossSpike] = []
    for spike in over:
        if events and spike.step - events[-1].step <= MERGE_GAP:
            if spike.ratio > events[-1].ratio:
                events[-1] = spike
            continue
        events.append(spike)
    return near, events, len(over)


def _denominators(optimizer_state: dict) -> torch.Tensor | None:
    """sqrt of RMSprop's `square_avg` / Adam's `exp_avg_sq`, every weight, from a saved optimizer state."""
    parts = []
    for state in (optimizer_state or {}).get("state", {}).values():
        for key in ("square_avg", "exp_avg_sq"):
            if key in state:
                parts.append(state[key].detach().float().flatten().cpu())
    return torch.cat(parts).sqrt() if parts else None


def teacher_regressions(history: list[Snapshot], targets: str, prompt: int = 0) -> list[int]:
    """Checkpoint steps, after the pattern was first right, at which a teacher-forced step right at the checkpoint
    before is wrong: a right answer lost. Learning a step (the end symbol, say) is not one. Outputs and targets
    of several sequences are joined (`seqdiag.judgement`); a prompt's steps are not judged."""
    outputs = [s.outputs["teacher"] for s in history]
    first_right = next((i for i, o in enumerate(outputs) if is_right(o, targets, prompt)), None)
    if first_right is None:
        return []

    def right_at(output: str) -> set[tuple[int, int]]:
        pieces = zip(judgement.split(output), judgement.split(targets), strict=False)
        return {(k, t) for k, (o, g) in enumerate(pieces) for t in range(prompt, min(len(o), len(g))) if o[t] == g[t]}

    return [
        history[i].step for i in range(first_right + 1, len(history)) if right_at(outputs[i - 1]) - right_at(outputs[i])
    ]


def stability(
    traces: dict[str, Trace],
    history: list[Snapshot],
    losses: list[float],
    optimizer_state: dict,
    optimizer: str,
    lr: float,
    eps: float,
    *,
    targets: str | None = None,
    prompt: int = 0,
) -> Stability:
    """Counting and stability of one run. `targets` are the history's (every sequence's, joined as
    `seqdiag.judgement` reads them; default: the teacher-forced trace's); `prompt` the symbols given."""
    teacher = traces["teacher"]
    targets = teacher.targets if targets is None else targets
    end_symbol = teacher.targets[-1]
    end_step = {m: next((s.t for s in tr.steps if s.predicted == end_symbol), None) for m, tr in traces.items()}
    modes = [m for m in procedures.COLUMNS if history and m in history[0].outputs]
    curves = [learning_curve(history, m, targets, prompt) for m in modes]
    near, spikes, spike_steps = loss_spikes(losses)
    flips = teacher_regressions(history, targets, prompt)
    denominators = _denominators(optimizer_state) if optimizer in ("rmsprop", "adam") else None
    return Stability(
        end_step=end_step,
        target_step=len(teacher.targets) - 1,
        curves=curves,
        near_converged_at=near,
        spikes=spikes,
        spike_steps=spike_steps,
        teacher_flips=flips,
        optimizer=optimizer,
        lr=lr,
        eps=eps,
        denominator_median=float(denominators.median()) if denominators is not None else None,
        below_eps_share=float((denominators < eps).float().mean()) if denominators is not None else None,
    )
