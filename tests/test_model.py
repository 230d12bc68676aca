import pytest
import torch

from seqdiag.config import ModelConfig
from seqdiag.model import SequenceModel, keras_hard_sigmoid


def test_keras_hard_sigmoid_matches_its_definition():
    x = torch.linspace(-5, 5, 101)
    assert torch.allclose(keras_hard_sigmoid(x), torch.clamp(0.2 * x + 0.5, 0, 1))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("gate", ["hard_sigmoid", "sigmoid"])
def test_step_api_agrees_with_forward(cell, gate):
    model = SequenceModel(3, ModelConfig(cell=cell, gate=gate), seeds=[1, 2])
    x = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 4, 6)), 3).float()  # (N, B, T, V)
    logits, hidden, _ = model(x)
    state = model.initial_state(4)
    for t in range(6):
        step_logits, state = model.step(x[:, :, t], state)
        assert torch.allclose(step_logits, logits[:, :, t], atol=1e-6)
        assert torch.allclose(state[0], hidden[:, :, t], atol=1e-6)
    assert len(state) == (2 if cell == "lstm" else 1)


def test_stacked_copy_equals_single_model_with_that_seed():
    stack = SequenceModel(3, ModelConfig(), seeds=[5, 9, 11])
    single = SequenceModel(3, ModelConfig(), seeds=[9])
    for (name, a), (_, b) in zip(stack.named_parameters(), single.named_parameters(), strict=True):
        assert torch.equal(a[1], b[0]), name
    x = torch.nn.functional.one_hot(torch.randint(0, 3, (1, 2, 7)), 3).float()
    out_stack, _, _ = stack(x.expand(3, -1, -1, -1))
    out_single, _, _ = single(x)
    assert torch.allclose(out_stack[1], out_single[0], atol=1e-6)


def test_models_in_a_stack_do_not_share_gradients():
    model = SequenceModel(3, ModelConfig(), seeds=[0, 1])
    x = torch.nn.functional.one_hot(torch.randint(0, 3, (1, 1, 5)), 3).float().expand(2, -1, -1, -1)
    logits, _, _ = model(x)
    logits[0].sum().backward()  # a loss of model 0 only
    for name, p in model.named_parameters():
        assert p.grad[1].abs().sum() == 0, name
        assert p.grad[0].abs().sum() > 0, name


def test_different_seeds_give_different_weights():
    a = SequenceModel(3, ModelConfig(), seeds=[0])
    b = SequenceModel(3, ModelConfig(), seeds=[1])
    assert not torch.equal(a.cell_weight_hh, b.cell_weight_hh)
