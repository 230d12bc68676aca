"""The numba kernels compute what the torch engine computes: gradients against autograd in float64, the
training steps against the torch engine step by step, the sampling procedures against torch's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from seqdiag import procedures
from seqdiag.config import load_config
from seqdiag.model import build_model
from seqdiag.policy import Decoding, InputPolicy, unroll
from seqdiag.sampling import run_procedure
from seqdiag.sequence import ToySequence
from seqdiag.train import per_model_loss, train

pytest.importorskip("numba")

from seqdiag.engine import POLICY_CODES, KernelStack, prepare_kernels, unpack  # noqa: E402

SHORT = ["sequence.length=12", "train.snapshot_every=10"]


def _kernel():
    prepare_kernels("float32")
    from seqdiag import kernel

    return kernel


def test_fast_tanh_and_sigmoid_are_within_a_few_float32_ulp_and_exact_in_float64():
    kernel = _kernel()
    x = np.linspace(-12, 12, 200_001)
    for dtype, tolerance in ((np.float32, 5e-7), (np.float64, 1e-15)):  # float32: a few ulp of 1
        values = x.astype(dtype)
        assert np.abs(kernel.tanh_values(values) - np.tanh(values.astype(np.float64))).max() < tolerance
        sigmoid = 1 / (1 + np.exp(-values.astype(np.float64)))
        assert np.abs(kernel.sigmoid_values(values) - sigmoid).max() < tolerance


def _clip_gate(x: torch.Tensor) -> torch.Tensor:
    """Keras' hard_sigmoid as the kernel writes it, clip(0.2 x + 0.5, 0, 1) (the model's is 1.2 x / 6 + 0.5)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


@pytest.mark.parametrize("gate", ["hard_sigmoid", "sigmoid"])
@pytest.mark.parametrize("policy", ["teacher", "zeros", "free"])
def test_gradients_match_autograd_in_float64(gate, policy):
    config = load_config(None, [*SHORT, f"model.gate={gate}"])
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, [0, 1, 2, 3, 4]).double()
    if gate == "hard_sigmoid":
        model.gate = _clip_gate
    model.forward = model.forward_stepwise  # plain autograd through SequenceModel.advance, step by step
    inputs = sequence.input_vectors().double()[None, None].expand(model.n_models, 1, -1, -1)
    loss = per_model_loss(unroll(model, inputs, InputPolicy(policy), Decoding()).logits, sequence.targets)
    loss.sum().backward()

    prepare_kernels("float64")
    stack = KernelStack(model, "sgd", 0.0, 0.9, 1e-6)  # lr 0: the step computes gradients, the weights stay
    code = POLICY_CODES[policy]
    taken, losses = stack.train(1, code, [1.0], sequence.inputs.numpy(), sequence.targets.numpy(), None, True)
    assert taken == 1
    np.testing.assert_allclose(losses[0], loss.detach().numpy(), rtol=0, atol=1e-12)
    grads = unpack(stack.grads, list(model.parameters()))
    for (name, param), grad in zip(model.named_parameters(), grads, strict=True):
        assert param.grad is not None
        error = float((param.grad - grad).abs().max())
        assert error <= 1e-10, (name, error)
        assert float(param.grad.abs().max()) > 1e-6, name  # a gradient that is really there


def _same_start(config, seeds):
    sequence = ToySequence.from_config(config.sequence)
    return sequence, build_model(len(sequence.vocabulary), config.model, seeds)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["model.gate=sigmoid", "train.optimizer=adam", "train.lr=0.01"],
        ["train.optimizer=sgd", "train.lr=0.1", "train.policy=zeros"],
        ["model.gate=sigmoid", "train.policy=free"],
        ["model.gate=sigmoid", "train.policy=scheduled", "train.schedule_k=5"],
    ],
    ids=["default", "adam-sigmoid", "sgd-zeros", "free", "scheduled"],
)
def test_training_steps_agree_with_the_torch_engine(extra):
    config = load_config(None, [*SHORT, "train.steps=20", *extra])
    reference = train(config, seeds=[0, 1, 2], engine="torch")
    kernel = train(config, seeds=[0, 1, 2], engine="numba")
    assert kernel.engine == "numba" and reference.engine == "torch"
    np.testing.assert_allclose(np.array(kernel.losses), np.array(reference.losses), rtol=2e-5, atol=2e-6)
    for mine, theirs in zip(kernel.model.parameters(), reference.model.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    assert [s.outputs for s in kernel.history] == [s.outputs for s in reference.history]
    assert kernel.optimizer_state["state"].keys() == reference.optimizer_state["state"].keys()
    for index, state in reference.optimizer_state["state"].items():
        for name, value in state.items():
            torch.testing.assert_close(kernel.optimizer_state["state"][index][name], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", procedures.NAMES)
def test_sampling_procedures_agree_with_torch(mode):
    config = load_config(None, ["train.steps=300", "model.gate=sigmoid"])
    trained = train(config, seeds=range(40), engine="torch")  # trained models: the outputs are not all alike
    sequence, model = trained.sequence, trained.model
    stack = KernelStack(model, "rmsprop", 1e-3, 0.9, 1e-6)
    steps = procedures.get(mode).steps(sequence.steps)
    hidden = np.zeros((model.n_models, steps, model.hidden_size), np.float32)
    logits = np.zeros((model.n_models, steps, model.vocab_size), np.float32)
    assert KernelStack.runs(procedures.get(mode)), f"the kernel does not run {mode}: snapshots fall back to torch"
    predicted = stack.run_procedure(procedures.get(mode), sequence.inputs.numpy(), steps, hidden, logits)
    reference = run_procedure(model, sequence, mode)
    assert predicted.tolist() == reference.predicted[:, 0].tolist()
    np.testing.assert_allclose(hidden, reference.hidden[:, 0].numpy(), atol=2e-5)
    np.testing.assert_allclose(logits, reference.logits[:, 0].numpy(), atol=1e-4)


def test_a_stack_member_trains_exactly_as_it_does_alone():
    """Lanes of a block, blocks of a stack and the one-model path compute the same bits."""
    config = load_config(None, [*SHORT, "train.steps=30", "train.policy=free"])
    stack = train(config, seeds=range(37), engine="numba")  # a full block of 32 and a partial one
    for seed in (0, 5, 33, 36):
        alone = train(dataclasses.replace(config, seed=seed), engine="numba")
        assert alone.losses[0] == stack.losses[seed]
        for mine, theirs in zip(alone.model.parameters(), stack.model.parameters(), strict=True):
            assert torch.equal(mine[0], theirs[seed])
