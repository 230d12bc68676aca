"""The fused whole-sequence recurrence computes what stepping `advance` under autograd computes."""

from __future__ import annotations

import pytest
import torch

from seqdiag import fused
from seqdiag.config import ModelConfig
from seqdiag.model import SequenceModel


def _inputs(n: int, b: int, t: int, v: int, dtype: torch.dtype, shared: bool = False) -> torch.Tensor:
    # One-hot rows with some zero vectors, as the teacher and zeros policies feed; `shared`: the same for
    # every model and rollout (what open-loop training feeds), which takes the per-symbol table path.
    if shared:
        return _inputs(1, 1, t, v, dtype).expand(n, b, t, v)
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(0, v, (n, b, t), generator=gen)
    x = torch.nn.functional.one_hot(idx, v).to(dtype)
    x[:, :, t // 2 :] *= (torch.rand(n, b, t - t // 2, 1, generator=gen) < 0.5).to(dtype)
    return x


def _grads(model: SequenceModel, x: torch.Tensor, state, stepwise: bool):
    model.zero_grad(set_to_none=True)
    leaves = [s.detach().clone().requires_grad_(True) for s in state]
    run = model.forward_stepwise if stepwise else model
    logits, hidden, final = run(x, tuple(leaves))
    # Weight every output differently so no gradient path cancels by symmetry.
    gen = torch.Generator().manual_seed(2)
    loss = (logits * torch.randn(logits.shape, generator=gen, dtype=x.dtype)).sum()
    loss = loss + (hidden * torch.randn(hidden.shape, generator=gen, dtype=x.dtype)).sum()
    for s in final:
        loss = loss + (s * torch.randn(s.shape, generator=gen, dtype=x.dtype)).sum()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    grads.update({f"state{i}": leaf.grad.clone() for i, leaf in enumerate(leaves)})
    return logits.detach(), hidden.detach(), [s.detach() for s in final], grads


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("gate", ["hard_sigmoid", "sigmoid"])
@pytest.mark.parametrize(
    ("n", "dtype", "tol", "shared"),
    [
        (3, torch.float64, 1e-10, False),  # narrow path: plain tanh, one broadcast product
        (3, torch.float64, 1e-10, True),  # inputs shared by the stack: a table of per-symbol slabs
        (300, torch.float64, 1e-10, False),  # wide path: tanh as 2 sigmoid(2x) - 1, blockwise products
        (300, torch.float64, 1e-10, True),
        (300, torch.float32, 1e-4, True),
    ],
)
def test_fused_matches_autograd_through_advance(cell, gate, n, dtype, tol, shared):
    config = ModelConfig(cell=cell, gate=gate, embed_size=6, hidden_size=7)
    model = SequenceModel(4, config, seeds=range(n)).to(dtype)
    if gate == "hard_sigmoid" and dtype == torch.float64:
        # ATen's hardsigmoid backward multiplies by a float32 1/6 even in double, which would hide
        # double-precision errors at 1e-7; the same function written out is exact in double.
        model.gate = lambda x: torch.clamp(x * 0.2 + 0.5, 0, 1)
    with torch.no_grad():  # larger weights than the init, so hard_sigmoid gates saturate on some steps
        for p in model.parameters():
            p.mul_(3)
    x = _inputs(n, 2, 9, 4, dtype, shared)
    assert (fused.shared_symbols(x) is not None) == shared
    gen = torch.Generator().manual_seed(3)
    state = tuple(torch.randn(s.shape, generator=gen, dtype=dtype) for s in model.initial_state(2))
    fast = _grads(model, x, state, stepwise=False)
    ref = _grads(model, x, state, stepwise=True)
    torch.testing.assert_close(fast[0], ref[0], rtol=tol, atol=tol)
    torch.testing.assert_close(fast[1], ref[1], rtol=tol, atol=tol)
    for a, b in zip(fast[2], ref[2], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    assert fast[3].keys() == ref[3].keys()
    for name in ref[3]:
        # Gradients sum many terms that partly cancel, so the error scales with the largest entry.
        scale = max(1.0, float(ref[3][name].abs().max()))
        torch.testing.assert_close(
            fast[3][name], ref[3][name], rtol=tol, atol=tol * scale, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_the_parametrization_covers_narrow_and_wide_paths():
    assert 300 * 2 * 7 >= fused.WIDE_MIN_ELEMENTS > 3 * 2 * 7


def test_fused_forward_under_no_grad_matches_stepwise():
    model = SequenceModel(3, ModelConfig(), seeds=[0, 1])
    x = _inputs(2, 1, 31, 3, torch.float32)
    with torch.no_grad():
        logits, hidden, (h, c) = model(x)
        ref_logits, ref_hidden, (ref_h, ref_c) = model.forward_stepwise(x)
    torch.testing.assert_close(logits, ref_logits)
    torch.testing.assert_close(c, ref_c)
    torch.testing.assert_close(h, hidden[:, :, -1])


def test_shared_symbols_reads_one_hot_and_zero_steps():
    x = torch.zeros(4, 3)
    x[0, 2] = 1.0  # the start symbol, then zero vectors: the 2015 zeros sampler
    x[2, 1] = 1.0
    assert fused.shared_symbols(x.expand(5, 2, 4, 3)) == [2, 3, 1, 3]
    contiguous = x.expand(5, 2, 4, 3).clone()
    assert fused.shared_symbols(contiguous) == [2, 3, 1, 3]
    contiguous[3, 1, 0, 0] = 1.0  # one rollout of one model differs
    assert fused.shared_symbols(contiguous) is None
    half = x.clone()
    half[1, 0] = 0.5
    assert fused.shared_symbols(half[None, None]) is None
