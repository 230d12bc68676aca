"""A stack of N models trained together is N independent runs: same weights and losses as training each alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seqdiag import fused
from seqdiag.config import Config, ModelConfig, TrainConfig
from seqdiag.train import train

STEPS = 50


def _config(cell: str = "lstm", gate: str = "hard_sigmoid", policy: str = "teacher") -> Config:
    # No snapshots but the first and last: they do not touch the weights, and they cost time.
    return Config(
        model=ModelConfig(cell=cell, gate=gate),
        train=TrainConfig(steps=STEPS, snapshot_every=10_000, policy=policy),
    )


def _assert_same_run(stack, index: int, alone) -> None:
    for name, param in alone.model.named_parameters():
        torch.testing.assert_close(
            getattr(stack.model, name)[index], param[0], rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
        )
    torch.testing.assert_close(torch.tensor(stack.losses[index]), torch.tensor(alone.losses[0]), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("cell", "gate", "policy"),
    [
        ("lstm", "hard_sigmoid", "teacher"),
        ("lstm", "hard_sigmoid", "zeros"),
        ("lstm", "hard_sigmoid", "free"),
        ("lstm", "sigmoid", "teacher"),
        ("gru", "hard_sigmoid", "teacher"),
        ("rnn", "sigmoid", "teacher"),
    ],
)
def test_stack_matches_separate_runs_over_50_steps(cell, gate, policy):
    config = _config(cell, gate, policy)
    seeds = [3, 11, 42]
    stack = train(config, seeds=seeds)
    assert stack.steps_done == STEPS
    for index, seed in enumerate(seeds):
        _assert_same_run(stack, index, train(config, seeds=[seed]))


def test_wide_stack_matches_separate_runs():
    """A stack wide enough for the fused engine's wide path (another tanh form, blockwise products)."""
    config = _config()
    n = fused.WIDE_MIN_ELEMENTS // config.model.hidden_size + 1
    stack = train(config, seeds=range(n))
    for index in (0, n // 2, n - 1):
        _assert_same_run(stack, index, train(config, seeds=[index]))


def test_stack_member_ignores_its_neighbours():
    """Changing the other seeds of a stack leaves a model's training untouched (bit for bit on the narrow path)."""
    config = _config()
    a = train(config, seeds=[5, 6, 7])
    b = train(config, seeds=[9, 6, 1])
    for name, param in a.model.named_parameters():
        assert torch.equal(param[1], getattr(b.model, name)[1]), name
    assert a.losses[1] == b.losses[1]


@pytest.mark.slow
def test_outcome_rates_of_a_wide_stack_agree_with_separate_runs():
    """Over many seeds, the batched outcome rates agree statistically with separate single-model runs.

    The stack is wide enough for the fused engine's wide path (other float rounding than single runs), and
    float differences grow chaotically over thousands of RMSprop steps, so single seeds may end apart; the
    rates must agree: the two Wilson 95% intervals overlap for every procedure.
    """
    from seqdiag.procedures import NAMES as PROCEDURES
    from seqdiag.sweep import procedure_rates

    config = dataclasses.replace(_config(), train=TrainConfig(steps=1500, snapshot_every=100))
    stack = train(config, seeds=range(256))
    alone = [train(config, seeds=[s]).histories[0] for s in range(16)]
    targets = stack.sequence.target_text()
    for mode in PROCEDURES:
        batched = procedure_rates(stack.histories, mode, targets)
        separate = procedure_rates(alone, mode, targets)
        assert batched.ci95[0] <= separate.ci95[1] and separate.ci95[0] <= batched.ci95[1], (mode, batched, separate)
