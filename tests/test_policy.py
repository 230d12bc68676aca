import math

import pytest
import torch

from seqdiag.config import ModelConfig
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding, InputPolicy, scheduled_epsilon, unroll

V = 3


def _true_inputs(t: int = 6) -> torch.Tensor:
    idx = torch.tensor([2] + [i % 2 for i in range(t - 1)])
    return torch.nn.functional.one_hot(idx, V).float()[None, None]  # (1, 1, T, V)


def test_teacher_feeds_the_true_inputs():
    x = _true_inputs()
    assert torch.equal(InputPolicy("teacher").feed_all(x), x)


def test_zeros_feeds_start_symbol_then_zero_vectors():
    fed = InputPolicy("zeros").feed_all(_true_inputs())
    assert torch.equal(fed[0, 0, 0], _true_inputs()[0, 0, 0])
    assert fed[0, 0, 1:].abs().sum() == 0


def test_free_feeds_the_previous_prediction():
    policy = InputPolicy("free")
    true = torch.tensor([[[1.0, 0, 0]]])
    pred = torch.tensor([[[0.0, 1, 0]]])
    assert torch.equal(policy.feed(0, true, None), true)  # start symbol
    assert torch.equal(policy.feed(3, true, pred), pred)


def test_scheduled_mixes_by_epsilon():
    true = torch.tensor([1.0, 0, 0]).expand(1, 4000, 3)
    pred = torch.tensor([0.0, 1, 0]).expand(1, 4000, 3)
    g = torch.Generator().manual_seed(0)
    fed = InputPolicy("scheduled", epsilon=0.3).feed(2, true, pred, g)
    share_true = float(fed[..., 0].mean())
    assert abs(share_true - 0.3) < 0.03
    assert torch.equal(InputPolicy("scheduled", epsilon=1.0).feed(2, true, pred, g), true)
    assert torch.equal(InputPolicy("scheduled", epsilon=0.0).feed(2, true, pred, g), pred)


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        ("linear", 0, 1.0),
        ("linear", 250, 0.5),
        ("linear", 900, 0.0),
        ("exponential", 500, math.exp(-1)),
        ("inverse_sigmoid", 0, 500 / 501),
        ("inverse_sigmoid", 5000, 500 / (500 + math.exp(10))),
    ],
)
def test_scheduled_epsilon_follows_each_schedule(schedule, step, expected):
    assert scheduled_epsilon(schedule, 500.0, 0.0, step) == pytest.approx(expected)


def test_scheduled_epsilon_respects_floor_and_decreases():
    values = [scheduled_epsilon("inverse_sigmoid", 100.0, 0.2, s) for s in range(0, 3000, 100)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert min(values) == 0.2


def test_decoding_argmax_and_top_k():
    logits = torch.tensor([[0.0, 5.0, 1.0]])
    assert Decoding().choose(logits).tolist() == [1]
    g = torch.Generator().manual_seed(0)
    picks = Decoding(temperature=1.0, top_k=2).choose(logits.expand(2000, 3), g)
    assert set(picks.tolist()) <= {1, 2}  # the least likely symbol is never drawn
    assert 0 < (picks == 2).sum() < 500


def test_carried_state_equals_rerunning_the_prefix():
    model = SequenceModel(V, ModelConfig(), seeds=[3])
    x = _true_inputs(12)
    with torch.no_grad():
        carried = unroll(model, x, InputPolicy("free"))
        rerun = unroll(model, x, InputPolicy("free"), state_handling="prefix")
    assert torch.equal(carried.predicted, rerun.predicted)
    assert torch.allclose(carried.logits, rerun.logits, atol=1e-5)
    assert torch.equal(carried.inputs, rerun.inputs)


def test_open_loop_fast_path_equals_step_loop():
    model = SequenceModel(V, ModelConfig(), seeds=[3])
    x = _true_inputs(10)
    with torch.no_grad():
        fast = unroll(model, x, InputPolicy("zeros"))
        slow = unroll(model, x, InputPolicy("zeros"), state_handling="prefix")
    assert torch.allclose(fast.logits, slow.logits, atol=1e-5)
    assert torch.equal(fast.inputs, slow.inputs)


def _refeed_quadratic(model: SequenceModel, x: torch.Tensor):
    """The stateless sampler as defined: at every step, one fresh-state pass over the whole prefix fed so far."""
    policy, fed, logits, picks, previous = InputPolicy("free"), [], [], [], None
    for t in range(x.shape[2]):
        fed.append(policy.feed(t, x[:, :, t], previous))
        step_logits = model(torch.stack(fed, dim=2))[0][:, :, -1]
        pick = step_logits.argmax(-1)
        previous = torch.nn.functional.one_hot(pick, V).to(x.dtype)
        logits.append(step_logits)
        picks.append(pick)
    return torch.stack(fed, dim=2), torch.stack(logits, dim=2), torch.stack(picks, dim=2)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_linear_refeed_equals_rerunning_every_prefix(cell):
    model = SequenceModel(V, ModelConfig(cell=cell, gate="sigmoid"), seeds=[1, 2, 3])
    x = _true_inputs(40).expand(3, 2, -1, -1)
    with torch.no_grad():
        fed, logits, picks = _refeed_quadratic(model, x)
        fast = unroll(model, x, InputPolicy("free"), state_handling="prefix")
    assert torch.equal(fast.predicted, picks) and torch.equal(fast.inputs, fed)
    assert torch.allclose(fast.logits, logits, atol=1e-5)


def test_linear_refeed_corrects_a_wrong_guess(monkeypatch):
    """The guess (carried state) is only a guess: made wrong on purpose, the checked result is still the sampler's."""
    model = SequenceModel(V, ModelConfig(), seeds=[3])
    x = _true_inputs(25)
    with torch.no_grad():
        fed, logits, picks = _refeed_quadratic(model, x)
        real_step = model.step
        calls = []

        def wrong_step(inputs, state):
            out, state = real_step(inputs, state)
            calls.append(1)
            return -out, state  # every guessed pick is the least likely symbol

        monkeypatch.setattr(model, "step", wrong_step)
        fast = unroll(model, x, InputPolicy("free"), state_handling="prefix")
    assert calls  # the guess was used, and corrected
    assert torch.equal(fast.predicted, picks) and torch.equal(fast.inputs, fed)
    assert torch.allclose(fast.logits, logits, atol=1e-5)
