"""The whole-sequence recurrence with a hand-written backward (BPTT): the open-loop fast path.

Why this exists: the models are tiny (H = 10), so autograd through T calls of `SequenceModel.advance`
is dominated by per-op overhead (about 1 µs per op at N = 1), not by arithmetic. Here the forward runs the
T steps with few, in-place ops into preallocated (T, N, B, ...) buffers and records no graph; the backward
runs the T steps back with about five ops each, everything that does not depend on the step order
(gate derivatives, weight gradients) being done once over all T. Autograd plugs the result in as one node,
so the embedding, readout, loss and optimizer stay plain autograd.

It computes the same function as stepping `SequenceModel.advance`: the gradients match plain autograd to
float tolerance for every cell and gate (tests/test_fused.py). Two reformulations, both exact in real
arithmetic, are the only numerical differences:

- Keras' hard_sigmoid clip(0.2 x + 0.5, 0, 1) is computed as written, with the 0.2 and 0.5 folded into the
  input pre-activations and the recurrent weights, so a gate costs one clamp.
- For wide stacks tanh(x) is computed as 2 sigmoid(2 x) - 1: torch's CPU tanh is about 8x slower than its
  sigmoid, and tanh is the biggest cost after the matrix products at N = 1024. The factor 2 is folded into
  the weights too; for narrow stacks (where op count, not arithmetic, is the cost) plain tanh is used.

Shapes: N models, B rollouts, T steps, H hidden, G = blocks * H pre-activations (LSTM i, f, o, candidate;
GRU z, r, n; RNN h), the same column layout as `SequenceModel`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

# Keras 0.x hard_sigmoid: clip(0.2 x + 0.5, 0, 1); its derivative is 0.2 strictly inside the ramp.
HARD_SLOPE = 0.2
HARD_OFFSET = 0.5

# Below this many state elements per step (N * B * H) the op count dominates and plain tanh is used;
# above it the arithmetic of tanh does, and the sigmoid form wins (measured on a 2-core AVX-512 CPU).
FAST_TANH_MIN_ELEMENTS = 2048

FUSED_CELLS = ("lstm", "gru", "rnn")
FUSED_GATES = ("hard_sigmoid", "sigmoid")


@dataclass(frozen=True)
class _Spec:
    cell: str
    gate: str
    hidden: int
    fast_tanh: bool

    @property
    def gate_blocks(self) -> int:
        """How many leading H-wide blocks are gates (the rest are tanh blocks)."""
        return {"lstm": 3, "gru": 2, "rnn": 0}[self.cell]

    @property
    def blocks(self) -> int:
        return {"lstm": 4, "gru": 3, "rnn": 1}[self.cell]

    @property
    def tanh_scale(self) -> float:
        """Tanh blocks are fed 2x when tanh is computed as 2 sigmoid(2x) - 1."""
        return 2.0 if self.fast_tanh else 1.0


@functools.lru_cache(maxsize=64)
def _affine(spec: _Spec, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (scale, offset) folded into the pre-activations: (G,) each, cached per shape."""
    h = spec.hidden
    gate_scale, gate_offset = (HARD_SLOPE, HARD_OFFSET) if spec.gate == "hard_sigmoid" else (1.0, 0.0)
    scale = torch.full((spec.blocks * h,), spec.tanh_scale, dtype=dtype)
    offset = torch.zeros(spec.blocks * h, dtype=dtype)
    scale[: spec.gate_blocks * h] = gate_scale
    offset[: spec.gate_blocks * h] = gate_offset
    return scale.to(device), offset.to(device)


@functools.lru_cache(maxsize=64)
def _constant(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(value, dtype=dtype, device=device)


def _gate_(spec: _Spec, x: torch.Tensor) -> None:
    """Gate activation in place on pre-scaled pre-activations."""
    if spec.gate == "hard_sigmoid":
        x.clamp_(0.0, 1.0)
    else:
        x.sigmoid_()


def _gate_derivative(spec: _Spec, a: torch.Tensor) -> torch.Tensor:
    """d gate / d (unscaled) pre-activation, from the gate's output a, for all steps at once."""
    if spec.gate == "hard_sigmoid":
        # torch's hardsigmoid passes gradient strictly inside the ramp; so does this.
        return ((a > 0) & (a < 1)).to(a.dtype) * HARD_SLOPE
    return a * (1 - a)


def _tanh_(spec: _Spec, x: torch.Tensor, scale: float = 1.0) -> None:
    """In place: x (pre-activations already multiplied by tanh_scale) -> scale * tanh(pre)."""
    if spec.fast_tanh:
        x.sigmoid_()
        # scale * (2 s - 1) in one op; torch.add(const, x, alpha=...) writes straight back into x.
        torch.add(_constant(-scale, x.dtype, x.device), x, alpha=2.0 * scale, out=x)
    else:
        x.tanh_()
        if scale != 1.0:
            x.mul_(scale)


def _tanh(spec: _Spec, x: torch.Tensor, out: torch.Tensor) -> None:
    """out = tanh(x / tanh_scale): x holds tanh_scale times the argument."""
    if spec.fast_tanh:
        torch.sigmoid(x, out=out)
        torch.add(_constant(-1.0, x.dtype, x.device), out, alpha=2.0, out=out)
    else:
        torch.tanh(x, out=out)


def _prev(first: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
    """(N, B, X) and (T, N, B, X) -> (T, N, B, X): the value before each step."""
    return torch.cat([first.unsqueeze(0), seq[:-1]])


def _weight_grad(h_prev: torch.Tensor, d_pre: torch.Tensor) -> torch.Tensor:
    """sum over steps and rollouts of h_prev^T d_pre: (T, N, B, H), (T, N, B, G) -> (N, H, G)."""
    t, n, b, h = h_prev.shape
    left = h_prev.permute(1, 3, 0, 2).reshape(n, h, t * b)
    right = d_pre.permute(1, 0, 2, 3).reshape(n, t * b, d_pre.shape[-1])
    return torch.bmm(left, right)


# --- LSTM -------------------------------------------------------------------------------------------------


def _lstm_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    """pre_in (T, N, B, G) pre-scaled input pre-activations, w (N, H, G) pre-scaled weights.

    Keeps c scaled by k = tanh_scale (so tanh(c) is one sigmoid of the stored value) and the candidate g
    scaled by k to match; returns activations [i, f, o, k g], k c, tanh(c) and h, each (T, N, B, ·).
    """
    h = spec.hidden
    k = spec.tanh_scale
    acts = torch.empty_like(pre_in)
    cells = pre_in.new_empty(*pre_in.shape[:-1], h)
    tanh_c = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    gates = acts[..., : 3 * h].unbind(0)
    cand = acts[..., 3 * h :].unbind(0)
    i_s, f_s, o_s = (acts[..., j * h : (j + 1) * h].unbind(0) for j in range(3))
    c = c0 * k if k != 1.0 else c0
    h_prev = h0
    whole_sigmoid = spec.gate == "sigmoid" and spec.fast_tanh
    for t, (p, a, c_out, tc_out, h_out) in enumerate(
        zip(pre_in.unbind(0), acts.unbind(0), cells.unbind(0), tanh_c.unbind(0), hidden.unbind(0), strict=True)
    ):
        torch.baddbmm(p, h_prev, w, out=a)
        if whole_sigmoid:
            a.sigmoid_()  # gates and candidate share one sigmoid; the candidate is fixed up below
            torch.add(_constant(-2.0, a.dtype, a.device), cand[t], alpha=4.0, out=cand[t])  # k (2 s - 1)
        else:
            _gate_(spec, gates[t])
            _tanh_(spec, cand[t], scale=k)
        torch.mul(f_s[t], c, out=c_out)
        c_out.addcmul_(i_s[t], cand[t])
        _tanh(spec, c_out, tc_out)
        torch.mul(o_s[t], tc_out, out=h_out)
        c, h_prev = c_out, h_out
    return acts, cells, tanh_c, hidden


def _lstm_backward(spec, acts, cells, tanh_c, hidden, h0, c0, weight_hh, d_hidden, d_c_last):
    h = spec.hidden
    k = spec.tanh_scale
    steps, n, b, _ = acts.shape
    i, f, o, cand = acts.split(h, dim=-1)
    g = cand / k if k != 1.0 else cand
    c_prev = _prev(c0, cells / k if k != 1.0 else cells)
    deriv = torch.cat([_gate_derivative(spec, acts[..., : 3 * h]), 1 - g * g], dim=-1).view(steps, n, b, 4, h)
    # d pre = K * [dc, dc, dh, dc] per block: i <- g, f <- c_prev, o <- tanh(c), candidate <- i.
    coeff = torch.stack([g, c_prev, tanh_c, i], dim=3).mul_(deriv)  # (T, N, B, 4, H)
    dc_from_h = o * (1 - tanh_c * tanh_c)  # d c / d h through h = o tanh(c)
    d_pre = acts.new_empty(steps, n, b, 4, h)
    w_t = weight_hh.transpose(1, 2)  # (N, G, H), the real (unscaled) weights
    dh = acts.new_empty(n, b, h)
    coeffs, dc_coeffs, fs, d_pres = coeff.unbind(0), dc_from_h.unbind(0), f.unbind(0), d_pre.unbind(0)
    d_pre_o = d_pre[..., 2, :].unbind(0)
    coeff_o = coeff[..., 2, :].unbind(0)
    d_hid = d_hidden.unbind(0)
    dc_next = d_c_last
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            dh.copy_(d_hid[t])
        else:
            torch.baddbmm(d_hid[t], d_pres[t + 1].view(n, b, 4 * h), w_t, out=dh)
        dc = dh * dc_coeffs[t] if dc_next is None else torch.addcmul(dc_next, dh, dc_coeffs[t])
        torch.mul(coeffs[t], dc.unsqueeze(-2), out=d_pres[t])
        torch.mul(coeff_o[t], dh, out=d_pre_o[t])
        dc_next = dc * fs[t]
    d_pre = d_pre.view(steps, n, b, 4 * h)
    d_h0 = torch.bmm(d_pre[0], w_t)
    d_w = _weight_grad(_prev(h0, hidden), d_pre)
    return d_pre, d_w, d_h0, dc_next


# --- GRU --------------------------------------------------------------------------------------------------


def _gru_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor):
    """h = n + z (h_prev - n), n = tanh(P_n + r R_n), R = h_prev W; returns activations, R, h_prev - n, h."""
    h = spec.hidden
    acts = torch.empty_like(pre_in)
    recurrent = torch.empty_like(pre_in)
    diff = pre_in.new_empty(*pre_in.shape[:-1], h)
    hidden = torch.empty_like(diff)
    zr = acts[..., : 2 * h].unbind(0)
    p_zr = pre_in[..., : 2 * h].unbind(0)
    r_zr = recurrent[..., : 2 * h].unbind(0)
    z_s = acts[..., :h].unbind(0)
    r_s = acts[..., h : 2 * h].unbind(0)
    n_s = acts[..., 2 * h :].unbind(0)
    p_n = pre_in[..., 2 * h :].unbind(0)
    r_n = recurrent[..., 2 * h :].unbind(0)
    h_prev = h0
    for t, (rec, d_out, h_out) in enumerate(zip(recurrent.unbind(0), diff.unbind(0), hidden.unbind(0), strict=True)):
        torch.bmm(h_prev, w, out=rec)
        torch.add(p_zr[t], r_zr[t], out=zr[t])
        _gate_(spec, zr[t])
        torch.addcmul(p_n[t], r_s[t], r_n[t], out=n_s[t])
        _tanh_(spec, n_s[t])
        torch.sub(h_prev, n_s[t], out=d_out)
        torch.addcmul(n_s[t], z_s[t], d_out, out=h_out)
        h_prev = h_out
    return acts, recurrent, diff, hidden


def _gru_backward(spec, acts, recurrent, diff, hidden, h0, weight_hh, d_hidden):
    h = spec.hidden
    steps, n, b, _ = acts.shape
    z, r, n_act = acts.split(h, dim=-1)
    rec_n = recurrent[..., 2 * h :] / spec.tanh_scale if spec.fast_tanh else recurrent[..., 2 * h :]
    d_gates = _gate_derivative(spec, acts[..., : 2 * h])
    k1 = diff * d_gates[..., :h]  # d pre_z / d h
    k2 = (1 - z) * (1 - n_act * n_act)  # d pre_n / d h
    k3 = k2 * rec_n * d_gates[..., h:]  # d pre_r / d h
    # d R = d h * [k1, k3, k2 r] (what flows back through W), d P = d h * [k1, k3, k2].
    coeff_rec = torch.stack([k1, k3, k2 * r], dim=3)  # (T, N, B, 3, H)
    d_rec = acts.new_empty(steps, n, b, 3, h)
    d_h_all = acts.new_empty(steps, n, b, h)
    w_t = weight_hh.transpose(1, 2)
    z_s, d_hid, d_recs, coeffs, dhs = (
        z.unbind(0),
        d_hidden.unbind(0),
        d_rec.unbind(0),
        coeff_rec.unbind(0),
        d_h_all.unbind(0),
    )
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            dhs[t].copy_(d_hid[t])
        else:
            carried = torch.addcmul(d_hid[t], dhs[t + 1], z_s[t + 1])
            torch.baddbmm(carried, d_recs[t + 1].view(n, b, 3 * h), w_t, out=dhs[t])
        torch.mul(coeffs[t], dhs[t].unsqueeze(-2), out=d_recs[t])
    d_rec = d_rec.view(steps, n, b, 3 * h)
    d_h0 = torch.baddbmm(dhs[0] * z_s[0], d_rec[0], w_t)
    d_pre = torch.cat([k1, k3, k2], dim=-1).mul_(d_h_all.repeat(1, 1, 1, 3))
    d_w = _weight_grad(_prev(h0, hidden), d_rec)
    return d_pre, d_w, d_h0


# --- RNN --------------------------------------------------------------------------------------------------


def _rnn_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor):
    hidden = torch.empty_like(pre_in)
    h_prev = h0
    for p, h_out in zip(pre_in.unbind(0), hidden.unbind(0), strict=True):
        torch.baddbmm(p, h_prev, w, out=h_out)
        _tanh_(spec, h_out)
        h_prev = h_out
    return (hidden,)


def _rnn_backward(spec, hidden, h0, weight_hh, d_hidden):
    steps, n, b, h = hidden.shape
    deriv = (1 - hidden * hidden).unbind(0)
    d_pre = torch.empty_like(hidden)
    d_pres, d_hid = d_pre.unbind(0), d_hidden.unbind(0)
    w_t = weight_hh.transpose(1, 2)
    dh = hidden.new_empty(n, b, h)
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            dh.copy_(d_hid[t])
        else:
            torch.baddbmm(d_hid[t], d_pres[t + 1], w_t, out=dh)
        torch.mul(dh, deriv[t], out=d_pres[t])
    d_h0 = torch.bmm(d_pre[0], w_t)
    return d_pre, _weight_grad(_prev(h0, hidden), d_pre), d_h0


# --- autograd glue ----------------------------------------------------------------------------------------


class _Recurrence(torch.autograd.Function):
    """(projected (N, B, T, G), weight_hh (N, H, G), h0, c0) -> hidden (N, B, T, H)[, c_T (N, B, H)]."""

    @staticmethod
    def forward(ctx, spec, projected, weight_hh, h0, c0):  # type: ignore[override]
        scale, offset = _affine(spec, projected.dtype, projected.device)
        steps, n, b = projected.shape[2], projected.shape[0], projected.shape[1]
        pre_in = projected.new_empty(steps, n, b, projected.shape[-1])
        torch.addcmul(offset, projected.permute(2, 0, 1, 3), scale, out=pre_in)  # (T, N, B, G)
        w = weight_hh * scale
        ctx.spec = spec
        ctx.set_materialize_grads(False)
        if spec.cell == "lstm":
            saved = _lstm_forward(spec, pre_in, w, h0, c0)
            ctx.save_for_backward(*saved, h0, c0, weight_hh)
            cells, hidden = saved[1], saved[3]
            c_last = cells[-1] / spec.tanh_scale if spec.fast_tanh else cells[-1].clone()
            return hidden.permute(1, 2, 0, 3), c_last
        saved = _gru_forward(spec, pre_in, w, h0) if spec.cell == "gru" else _rnn_forward(spec, pre_in, w, h0)
        ctx.save_for_backward(*saved, h0, weight_hh)
        return saved[-1].permute(1, 2, 0, 3)

    @staticmethod
    def backward(ctx, d_hidden, d_c_last=None):  # type: ignore[override]
        spec = ctx.spec
        saved = ctx.saved_tensors
        steps = saved[0].shape[0]
        if d_hidden is None:
            n, b, h = saved[-2].shape if spec.cell != "lstm" else saved[-3].shape
            d_hidden = saved[0].new_zeros(steps, n, b, h)
        else:
            d_hidden = d_hidden.permute(2, 0, 1, 3).contiguous()  # (T, N, B, H)
        d_c0 = None
        if spec.cell == "lstm":
            acts, cells, tanh_c, hidden, h0, c0, weight_hh = saved
            d_pre, d_w, d_h0, d_c0 = _lstm_backward(
                spec, acts, cells, tanh_c, hidden, h0, c0, weight_hh, d_hidden, d_c_last
            )
        elif spec.cell == "gru":
            acts, recurrent, diff, hidden, h0, weight_hh = saved
            d_pre, d_w, d_h0 = _gru_backward(spec, acts, recurrent, diff, hidden, h0, weight_hh, d_hidden)
        else:
            hidden, h0, weight_hh = saved
            d_pre, d_w, d_h0 = _rnn_backward(spec, hidden, h0, weight_hh, d_hidden)
        return None, d_pre.permute(1, 2, 0, 3), d_w, d_h0, d_c0


def recurrence(
    cell: str,
    gate: str,
    projected: torch.Tensor,
    weight_hh: torch.Tensor,
    state: tuple[torch.Tensor, ...],
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run the cell over a whole known sequence of input pre-activations.

    Args:
        cell: lstm, gru or rnn.
        gate: hard_sigmoid or sigmoid.
        projected: (N, B, T, G) input pre-activations, bias included (`SequenceModel.project_input`).
        weight_hh: (N, H, G) recurrent weights.
        state: the initial state, (h,) or (h, c), each (N, B, H).

    Returns:
        hidden (N, B, T, H) and the final state, exactly as stepping `SequenceModel.advance` T times gives.
    """
    n, b, _, _ = projected.shape
    hidden_size = weight_hh.shape[1]
    spec = _Spec(cell, gate, hidden_size, fast_tanh=n * b * hidden_size >= FAST_TANH_MIN_ELEMENTS)
    h0 = state[0].contiguous()
    if cell == "lstm":
        hidden, c_last = _Recurrence.apply(spec, projected, weight_hh, h0, state[1].contiguous())
        return hidden, (hidden[:, :, -1], c_last)
    hidden = _Recurrence.apply(spec, projected, weight_hh, h0, None)
    return hidden, (hidden[:, :, -1],)
