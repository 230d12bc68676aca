"""Hidden-state drift: how far each procedure's hidden states are from the teacher-forced ones.

Two measurements per procedure:

- distance: per step, the L2 distance between its hidden state and the teacher-forced state at the same
  step (averaged over rollouts), and the first step beyond a tolerance band.
- probe: in the spirit of professor forcing's discriminator (Lamb et al. 2016), a logistic regression
  trained to tell teacher-forced hidden states from the procedure's, scored on held-out steps. 50% means
  the states are indistinguishable: the procedure keeps the model where training kept it.

The probe is tiny data (one state per step and rollout), so it is split by step (a step's states are
held out together for both classes), repeated over several random splits, and scored by balanced
accuracy; all procedures and splits are fitted together as one batch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag.policy import Rollout
from seqdiag.probes import DRIFT_TOLERANCE
from seqdiag.sparkline import sparkline
from seqdiag.table import Column, Row, TableSpec, styled

PROBE_SPLITS = 4
PROBE_STEPS = 200
PROBE_LR = 0.1
PROBE_WEIGHT_DECAY = 1e-3


@dataclass(frozen=True)
class ProcedureDrift:
    """One procedure against the teacher-forced trajectory."""

    mode: str
    distances: list[float]  # per step, mean over rollouts
    left_at: int | None  # first step beyond the tolerance; None if it stays within
    max_distance: float
    max_at: int
    probe_accuracy: float  # held-out balanced accuracy; 0.5 = indistinguishable
    probe_states: int  # states of this procedure the probe saw (train + held out)


@dataclass(frozen=True)
class DriftReport:
    tolerance: float
    teacher_states: int
    probe: str  # what the probe was trained on, in words
    procedures: list[ProcedureDrift]

    def get(self, mode: str) -> ProcedureDrift | None:
        return next((p for p in self.procedures if p.mode == mode), None)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def table(self) -> TableSpec:
        """One row per procedure: the step it leaves the band, its largest distance, the probe, and the distance per
        step as a sparkline (every row on one scale)."""
        top = max((p.max_distance for p in self.procedures), default=0.0)
        rows = tuple(
            Row(
                (
                    p.mode,
                    styled("stays", "good") if p.left_at is None else styled(f"step {p.left_at}", "bad"),
                    f"{p.max_distance:.2f} @{p.max_at}",
                    styled(f"{p.probe_accuracy:.0%}", "bad" if p.probe_accuracy >= 0.75 else ""),
                    sparkline(p.distances, low=0.0, high=top if top > 0 else 1.0),
                )
            )
            for p in self.procedures
        )
        return TableSpec(
            title="Hidden-state drift from the teacher-forced trajectory",
            caption=f"distance = L2 per step (bars scaled to {top:.2f}) · band = {self.tolerance:g} · probe = "
            f"held-out accuracy of a linear classifier (50% = indistinguishable), trained on {self.probe}",
            columns=(
                Column("procedure", keep=True),
                Column("leaves band", justify="right"),
                Column("max", justify="right"),
                Column("probe", justify="right"),
                Column("distance per step", no_wrap=True),
            ),
            rows=rows,
        )


def linear_probe(
    reference: list[torch.Tensor], others: list[torch.Tensor], splits: int = PROBE_SPLITS, seed: int = 0
) -> list[float]:
    """Held-out balanced accuracy of a logistic regression telling `reference[i]` from `others[i]`.

    reference[i]: (T, H) states; others[i]: (R, T', H) states of R rollouts, T' <= T steps. Each pair is
    split by step into halves `splits` times; everything is fitted as one batch. Returns one accuracy per pair.
    """
    generator = torch.Generator().manual_seed(seed)
    pairs = len(reference)
    if pairs == 0:
        return []
    steps = max(r.shape[0] for r in reference)
    rollouts = max(o.shape[0] for o in others)
    hidden = reference[0].shape[-1]
    m = steps * (1 + rollouts)  # slots per problem: the reference's steps, then each rollout's steps
    x = torch.zeros(pairs, m, hidden)
    y = torch.zeros(pairs, m)
    valid = torch.zeros(pairs, m, dtype=torch.bool)
    step_of = torch.arange(m) % steps  # (M,)
    for i, (ref, oth) in enumerate(zip(reference, others, strict=True)):
        x[i, : ref.shape[0]] = ref.float().cpu()
        valid[i, : ref.shape[0]] = True
        for r in range(oth.shape[0]):
            start = steps * (1 + r)
            x[i, start : start + oth.shape[1]] = oth[r].float().cpu()
            y[i, start : start + oth.shape[1]] = 1.0
            valid[i, start : start + oth.shape[1]] = True
    # Problems: every pair under every split. held[p, m] = the slot's step is held out in that split.
    held_steps = torch.stack([torch.randperm(steps, generator=generator) < steps // 2 for _ in range(splits)])
    x = x.repeat_interleave(splits, 0)  # (P*S, M, H)
    y = y.repeat_interleave(splits, 0)
    valid = valid.repeat_interleave(splits, 0)
    held = held_steps[:, step_of].repeat(pairs, 1)  # (P*S, M)

    def class_weights(mask: torch.Tensor) -> torch.Tensor:
        """Each class sums to 1/2 within the mask, so the majority class cannot win by numbers."""
        w = torch.zeros_like(y)
        for label in (0.0, 1.0):
            sel = mask & (y == label)
            w = w + sel.float() / sel.sum(1, keepdim=True).clamp(min=1) * 0.5
        return w

    train_w = class_weights(valid & ~held)
    test_w = class_weights(valid & held)
    train_mask = (train_w > 0).unsqueeze(-1)
    mean = (x * train_mask).sum(1, keepdim=True) / train_mask.sum(1, keepdim=True).clamp(min=1)
    std = (((x - mean) ** 2) * train_mask).sum(1, keepdim=True) / train_mask.sum(1, keepdim=True).clamp(min=1)
    z = (x - mean) / (std.sqrt() + 1e-6)
    weight = torch.zeros(z.shape[0], hidden, requires_grad=True)
    bias = torch.zeros(z.shape[0], 1, requires_grad=True)
    params = [weight, bias]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    with torch.enable_grad():
        for step in range(1, PROBE_STEPS + 1):
            logits = torch.einsum("pmh,ph->pm", z, weight) + bias
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
            total = (loss * train_w).sum() + PROBE_WEIGHT_DECAY * (weight**2).sum()
            grads = torch.autograd.grad(total, params)
            with torch.no_grad():
                for param, grad, (avg, avg_sq) in zip(params, grads, moments, strict=True):
                    _adam_update(param, grad, avg, avg_sq, step)
    with torch.no_grad():
        logits = torch.einsum("pmh,ph->pm", z, weight) + bias
        correct = ((logits > 0).float() == y).float()
        accuracy = (correct * test_w).sum(1) / test_w.sum(1).clamp(min=1e-12)  # (P*S,)
    return [round(float(a), 4) for a in accuracy.view(pairs, splits).mean(1)]


def _adam_update(param, grad, avg, avg_sq, step: int, lr: float = PROBE_LR, betas=(0.9, 0.999), eps=1e-8) -> None:
    """torch.optim.Adam's update (its single-tensor path, op for op, so the same bits), written out because
    constructing a torch optimizer imports torch._dynamo, which costs a `compare` seconds of start-up."""
    avg.lerp_(grad, 1 - betas[0])
    avg_sq.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
    step_size = lr / (1 - betas[0] ** step)
    denom = (avg_sq.sqrt() / math.sqrt(1 - betas[1] ** step)).add_(eps)
    param.addcdiv_(avg, denom, value=-step_size)


def hidden_drift_report(
    rollouts: dict[str, Rollout], tolerance: float = DRIFT_TOLERANCE, model_index: int = 0, seed: int = 0
) -> DriftReport:
    """Compare every procedure's hidden states in `rollouts` with those of `rollouts["teacher"]`."""
    teacher = rollouts["teacher"].hidden[model_index, 0].float().cpu()  # (T, H)
    modes = [m for m in rollouts if m != "teacher"]
    others = {m: rollouts[m].hidden[model_index].float().cpu() for m in modes}  # (R, T', H)
    accuracies = linear_probe([teacher] * len(modes), [others[m] for m in modes], seed=seed)
    procedures = []
    for mode, accuracy in zip(modes, accuracies, strict=True):
        states = others[mode]
        t = states.shape[1]
        distances = (states - teacher[:t]).norm(dim=-1).mean(0)  # (T',)
        beyond = torch.nonzero(distances > tolerance).flatten()
        procedures.append(
            ProcedureDrift(
                mode=mode,
                distances=[round(float(d), 6) for d in distances],
                left_at=int(beyond[0]) if beyond.numel() else None,
                max_distance=round(float(distances.max()), 6) if t else 0.0,
                max_at=int(distances.argmax()) if t else 0,
                probe_accuracy=accuracy,
                probe_states=states.shape[0] * t,
            )
        )
    rollout_counts = sorted({others[m].shape[0] for m in modes})
    described = (
        f"{teacher.shape[0]} teacher-forced states vs each procedure's states"
        + (f" ({', '.join(str(r) for r in rollout_counts)} rollouts)" if rollout_counts != [1] else "")
        + f"; held out: half the steps, {PROBE_SPLITS} random splits; balanced accuracy"
    )
    return DriftReport(tolerance, teacher.shape[0], described, procedures)
