"""The numba kernels compute what the torch engine computes, for every cell: gradients against autograd in
float64, the training steps against the torch engine step by step, the sampling procedures against torch's.

Each cell's kernels are a compile of their own, per float type. The default suite compiles the LSTM's in
float32 and float64, and the GRU's and RNN's in float64 only: their training steps are checked against the
torch engine's optimizers in float64 here. Their float32 runs through `train` are marked slow.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from seqdiag import procedures
from seqdiag.config import CELL_BLOCKS, load_config
from seqdiag.model import build_model
from seqdiag.policy import Decoding, InputPolicy, unroll
from seqdiag.sampling import run_procedure
from seqdiag.sequence import ToySequence
from seqdiag.train import make_optimizer, per_model_loss, train

pytest.importorskip("numba")

from seqdiag.engine import (  # noqa: E402
    KERNEL_CELLS,
    POLICY_CODES,
    KernelStack,
    pack,
    prepare_kernels,
    unpack,
)

SHORT = ["sequence.length=12", "train.snapshot_every=10"]
# Every cell and gate the kernel covers (a plain RNN has no gates: its config may not name one).
CELL_GATES = [("lstm", "hard_sigmoid"), ("lstm", "sigmoid"), ("gru", "hard_sigmoid"), ("gru", "sigmoid"), ("rnn", None)]
CELL_GATE_IDS = [f"{cell}-{gate or 'nogate'}" for cell, gate in CELL_GATES]


def _cell(cell: str, gate: str | None = None) -> list[str]:
    """The overrides that pick a cell and gate."""
    return [f"model.cell={cell}", *([f"model.gate={gate}"] if gate else [])]


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


def test_each_cell_has_its_own_tag_and_the_models_layout():
    from numba import typeof

    kernel = _kernel()
    assert kernel.CELLS == KERNEL_CELLS
    tags = {cell: kernel.cell_tag(cell) for cell in KERNEL_CELLS}
    assert len({typeof(tag) for tag in tags.values()}) == len(tags)  # one compiled specialisation per cell
    for cell, tag in tags.items():
        assert kernel._cell_of(typeof(tag)) == cell
        assert kernel._CELL_PARTS[cell][2] == CELL_BLOCKS[cell]  # G / H: the model's column layout
    with pytest.raises(TypeError, match="not a cell tag"):
        kernel._cell_of(typeof(np.empty(0, np.int8)))


def _clip_gate(x: torch.Tensor) -> torch.Tensor:
    """Keras' hard_sigmoid as the kernel writes it, clip(0.2 x + 0.5, 0, 1) (the model's is 1.2 x / 6 + 0.5)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


@pytest.mark.parametrize(("cell", "gate"), CELL_GATES, ids=CELL_GATE_IDS)
@pytest.mark.parametrize("policy", ["teacher", "zeros", "free"])
def test_gradients_match_autograd_in_float64(cell, gate, policy):
    config = load_config(None, [*SHORT, *_cell(cell, gate)])
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, [0, 1, 2, 3, 4]).double()
    if gate == "hard_sigmoid":
        model.gate = _clip_gate
    model.forward = model.forward_stepwise  # plain autograd through SequenceModel.advance, step by step
    inputs = sequence.input_vectors().double()[None, None].expand(model.n_models, 1, -1, -1)
    loss = per_model_loss(unroll(model, inputs, InputPolicy(policy), Decoding()).logits, sequence.targets)
    loss.sum().backward()

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


# Optimizer and policy pairs checked step by step (scheduled sampling's coins: through `train`, below).
STEPPED = [("rmsprop", "teacher", 1e-2), ("adam", "free", 1e-2), ("sgd", "zeros", 0.5)]


@pytest.mark.parametrize(("cell", "gate"), [c for c in CELL_GATES if c[0] != "lstm"], ids=CELL_GATE_IDS[2:])
@pytest.mark.parametrize(("optimizer", "policy", "lr"), STEPPED, ids=[f"{o}-{p}" for o, p, _ in STEPPED])
def test_float64_training_steps_agree_with_the_torch_engine(cell, gate, optimizer, policy, lr):
    """The torch engine's own step (its model code and torch's optimizer), in float64, against the kernel's."""
    overrides = [*SHORT, *_cell(cell, gate), f"train.optimizer={optimizer}", f"train.policy={policy}"]
    config = load_config(None, [*overrides, f"train.lr={lr}"])
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, [0, 1, 2]).double()
    stack = KernelStack(model, optimizer, lr, config.train.rho, config.train.eps)
    torch_optimizer = make_optimizer(model.parameters(), config.train)
    inputs = sequence.input_vectors().double()[None, None].expand(model.n_models, 1, -1, -1)
    steps = 15
    expected = []
    for _ in range(steps):
        loss = per_model_loss(unroll(model, inputs, InputPolicy(policy), Decoding()).logits, sequence.targets)
        expected.append(loss.detach().numpy())
        torch_optimizer.zero_grad()
        loss.sum().backward()
        torch_optimizer.step()
    taken, losses = stack.train(steps, POLICY_CODES[policy], [1.0] * steps, sequence.inputs.numpy(),
                                sequence.targets.numpy(), None)  # fmt: skip
    assert taken == steps
    assert np.abs(np.diff(np.array(expected), axis=0)).max() > 1e-4  # the steps really moved the models
    np.testing.assert_allclose(losses, np.array(expected), rtol=0, atol=1e-10)
    # Weights: rounding-level differences (summation order, the gate's formula) grow where Adam divides a
    # near-zero gradient by its near-zero root mean square; 1e-8 is still far below float32's resolution.
    np.testing.assert_allclose(stack.theta, pack(list(model.parameters())), rtol=0, atol=1e-8)
    state = stack.torch_optimizer_state(list(model.parameters()))["state"]
    for index, values in torch_optimizer.state_dict()["state"].items():
        for name, value in values.items():
            if name != "step":
                torch.testing.assert_close(state[index][name], value, rtol=0, atol=1e-8)


def test_float64_reruns_are_identical_whatever_the_threads():
    """Same stack and steps -> the same bits, whether its blocks run on one thread or two (GRU: a cell whose
    kernel is compiled for float64 in the default suite)."""
    config = load_config(None, [*SHORT, *_cell("gru", "sigmoid"), "train.policy=free"])
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, range(300)).double()  # three blocks of models
    runs = []
    for threads in (1, 1, 2):
        stack = KernelStack(model, "adam", 1e-2, 0.9, 1e-8, threads)
        taken, losses = stack.train(5, POLICY_CODES["free"], [1.0] * 5, sequence.inputs.numpy(),
                                    sequence.targets.numpy(), None)  # fmt: skip
        assert taken == 5
        runs.append((losses.tobytes(), stack.theta.tobytes(), stack.state2.tobytes()))
    assert runs[0] == runs[1] == runs[2]


def _same_start(config, seeds):
    sequence = ToySequence.from_config(config.sequence)
    return sequence, build_model(len(sequence.vocabulary), config.model, seeds)


TRAIN_CONFIGS = [
    [],
    ["model.gate=sigmoid", "train.optimizer=adam", "train.lr=0.01"],
    ["train.optimizer=sgd", "train.lr=0.1", "train.policy=zeros"],
    ["model.gate=sigmoid", "train.policy=free"],
    ["model.gate=sigmoid", "train.policy=scheduled", "train.schedule_k=5"],
]
TRAIN_IDS = ["default", "adam-sigmoid", "sgd-zeros", "free", "scheduled"]


def _check_training_steps_agree(extra: list[str], seeds=(0, 1, 2)) -> None:
    config = load_config(None, [*SHORT, "train.steps=20", *extra])
    reference = train(config, seeds=list(seeds), engine="torch")
    kernel = train(config, seeds=list(seeds), engine="numba")
    assert kernel.engine == "numba" and reference.engine == "torch"
    np.testing.assert_allclose(np.array(kernel.losses), np.array(reference.losses), rtol=2e-5, atol=2e-6)
    for mine, theirs in zip(kernel.model.parameters(), reference.model.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    assert [s.outputs for s in kernel.history] == [s.outputs for s in reference.history]
    assert kernel.optimizer_state["state"].keys() == reference.optimizer_state["state"].keys()
    for index, state in reference.optimizer_state["state"].items():
        for name, value in state.items():
            torch.testing.assert_close(kernel.optimizer_state["state"][index][name], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("extra", TRAIN_CONFIGS, ids=TRAIN_IDS)
def test_training_steps_agree_with_the_torch_engine(extra):
    _check_training_steps_agree(extra)


def _without_gate(extra: list[str]) -> list[str]:
    return [item for item in extra if not item.startswith("model.gate=")]


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("extra", TRAIN_CONFIGS, ids=TRAIN_IDS)
def test_float32_training_steps_of_every_cell_agree_with_the_torch_engine(cell, extra):
    _check_training_steps_agree([f"model.cell={cell}", *(_without_gate(extra) if cell == "rnn" else extra)])


def _check_procedure(mode: str, overrides: list[str]) -> None:
    config = load_config(None, ["train.steps=300", *overrides])
    trained = train(config, seeds=range(40), engine="torch")  # trained models: the outputs are not all alike
    sequence, model = trained.sequence, trained.model
    stack = KernelStack(model, "rmsprop", 1e-3, 0.9, 1e-6)
    steps = procedures.get(mode).steps(sequence.steps)
    hidden = np.zeros((model.n_models, steps, model.hidden_size), np.float32)
    logits = np.zeros((model.n_models, steps, model.vocab_size), np.float32)
    assert KernelStack.runs(procedures.get(mode)), f"the kernel does not run {mode}: snapshots fall back to torch"
    predicted = stack.run_procedure(procedures.get(mode), sequence.inputs.numpy(), steps, hidden, logits)
    reference = run_procedure(model, sequence, mode)
    assert np.ptp(hidden, axis=0).max() > 1e-2  # models that differ: a real check of each one
    assert predicted.tolist() == reference.predicted[:, 0].tolist()
    np.testing.assert_allclose(hidden, reference.hidden[:, 0].numpy(), atol=2e-5)
    np.testing.assert_allclose(logits, reference.logits[:, 0].numpy(), atol=1e-4)


@pytest.mark.parametrize("mode", procedures.NAMES)
def test_sampling_procedures_agree_with_torch(mode):
    _check_procedure(mode, ["model.gate=sigmoid"])


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("mode", procedures.NAMES)
def test_sampling_procedures_of_every_cell_agree_with_torch(cell, mode):
    _check_procedure(mode, [f"model.cell={cell}", "train.lr=0.01"])


@pytest.mark.parametrize("cell", ["lstm", pytest.param("gru", marks=pytest.mark.slow)])
def test_a_stack_member_trains_exactly_as_it_does_alone(cell):
    """Lanes of a block, blocks of a stack and the one-model path compute the same bits."""
    config = load_config(None, [*SHORT, "train.steps=30", "train.policy=free", f"model.cell={cell}"])
    stack = train(config, seeds=range(37), engine="numba")  # a full block of 32 and a partial one
    for seed in (0, 5, 33, 36):
        alone = train(dataclasses.replace(config, seed=seed), engine="numba")
        assert alone.losses[0] == stack.losses[seed]
        for mine, theirs in zip(alone.model.parameters(), stack.model.parameters(), strict=True):
            assert torch.equal(mine[0], theirs[seed])
