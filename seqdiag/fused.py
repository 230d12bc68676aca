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

# Below this many state elements per step (N * B * H) the op count is the cost and the narrow path is used;
# above it the arithmetic and memory traffic are, and the wide path is (measured on a 2-core AVX-512 CPU).
WIDE_MIN_ELEMENTS = 2048

FUSED_CELLS = ("lstm", "gru", "rnn")
FUSED_GATES = ("hard_sigmoid", "sigmoid")


@dataclass(frozen=True)
class _Spec:
    cell: str
    gate: str
    hidden: int
    wide: bool
    """Wide stacks: tanh as 2 sigmoid(2x) - 1, and block-by-block products instead of one broadcast
    (torch's broadcast over a middle dimension of 4 with an inner one of H runs element-chunk by chunk)."""

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
        return 2.0 if self.wide else 1.0


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
    """d gate / d (unscaled) pre-activation from the gate outputs a, as a new tensor, all steps at once.

    sigmoid: a (1 - a). hard_sigmoid: 0.2 strictly inside the ramp, like torch's hardsigmoid backward; a is
    clamped to [0, 1], so a - a^2 > 0 exactly there, and sign() avoids comparisons (slow on CPU).
    """
    u = torch.addcmul(a, a, a, value=-1.0)
    if spec.gate == "hard_sigmoid":
        u.sign_().mul_(HARD_SLOPE)
    return u


def _tanh_(spec: _Spec, x: torch.Tensor, scale: float = 1.0) -> None:
    """In place: x (pre-activations already multiplied by tanh_scale) -> scale * tanh(pre)."""
    if spec.wide:
        x.sigmoid_()
        # scale * (2 s - 1) in one op; torch.add(const, x, alpha=...) writes straight back into x.
        torch.add(_constant(-scale, x.dtype, x.device), x, alpha=2.0 * scale, out=x)
    else:
        x.tanh_()
        if scale != 1.0:
            x.mul_(scale)


def _tanh(spec: _Spec, x: torch.Tensor, out: torch.Tensor) -> None:
    """out = tanh(x / tanh_scale): x holds tanh_scale times the argument."""
    if spec.wide:
        torch.sigmoid(x, out=out)
        torch.add(_constant(-1.0, x.dtype, x.device), out, alpha=2.0, out=out)
    else:
        torch.tanh(x, out=out)


def _one_minus_square(x: torch.Tensor, scale: float = 1.0, out: torch.Tensor | None = None) -> torch.Tensor:
    """1 - (x / scale)^2 in one op."""
    one = _constant(1.0, x.dtype, x.device)
    return torch.addcmul(one, x, x, value=-1.0 / (scale * scale), out=out)


def _model_layout(x: torch.Tensor) -> torch.Tensor:
    """(T, N, B, X) -> contiguous (N, B, T, X)."""
    return x.permute(1, 2, 0, 3).contiguous()


def _step_layout(x: torch.Tensor) -> torch.Tensor:
    """(N, B, T, X) -> contiguous (T, N, B, X)."""
    return x.permute(2, 0, 1, 3).contiguous()


def _weight_grad(h0: torch.Tensor, hidden: torch.Tensor, d_pre: torch.Tensor) -> torch.Tensor:
    """sum over steps and rollouts of h_prev^T d_pre: h0 (N, B, H), hidden (N, B, T, H), d_pre (N, B, T, G)."""
    n, b, steps, h = hidden.shape
    first = torch.bmm(h0.transpose(1, 2), d_pre[:, :, 0])
    if steps == 1:
        return first
    h_prev = hidden[:, :, :-1].reshape(n, b * (steps - 1), h)
    d_rest = d_pre[:, :, 1:].reshape(n, b * (steps - 1), d_pre.shape[-1])
    return torch.baddbmm(first, h_prev.transpose(1, 2), d_rest)


def _blocks_times(
    spec: _Spec,
    coeff: torch.Tensor,
    factor: torch.Tensor,
    out: torch.Tensor,
    odd: tuple[int, torch.Tensor] | None = None,
) -> None:
    """out[:, :, j] = coeff[:, :, j] * factor for every block j, except block odd[0], which takes odd[1].

    coeff and out are (N, B, blocks, H), the factors (N, B, H).
    """
    if spec.wide:
        for j in range(coeff.shape[2]):
            torch.mul(coeff[:, :, j], odd[1] if odd is not None and j == odd[0] else factor, out=out[:, :, j])
        return
    torch.mul(coeff, factor.unsqueeze(-2), out=out)
    if odd is not None:
        torch.mul(coeff[:, :, odd[0]], odd[1], out=out[:, :, odd[0]])


# Layout: everything the steps touch is stored step-major (T, N, B, ...), so each step reads and writes
# contiguous memory (a step slice of an (N, B, T, ...) tensor is strided and costs ~20x more at N = 1024);
# the model-layout (N, B, T, ...) tensors are converted once per pass, at the boundary.

# --- LSTM -------------------------------------------------------------------------------------------------


def _lstm_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    """pre_in (T, N, B, G) pre-scaled input pre-activations, w (N, H, G) pre-scaled weights.

    Keeps c scaled by k = tanh_scale (so tanh(c) is one sigmoid of the stored value) and the candidate g
    scaled by k to match; returns activations [i, f, o, k g], k c, tanh(c) and h, each (T, N, B, ·).
    """
    steps, n, b, g = pre_in.shape
    h = spec.hidden
    k = spec.tanh_scale
    acts = pre_in.new_empty(steps, n, b, g)
    cells = pre_in.new_empty(steps, n, b, h)
    tanh_c = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    gates = acts[..., : 3 * h].unbind(0)
    cand = acts[..., 3 * h :].unbind(0)
    i_s, f_s, o_s = (acts[..., j * h : (j + 1) * h].unbind(0) for j in range(3))
    c = c0 * k if k != 1.0 else c0
    h_prev = h0
    whole_sigmoid = spec.gate == "sigmoid" and spec.wide
    minus_two = _constant(-2.0, acts.dtype, acts.device)
    for t, (p, a, c_out, tc_out, h_out) in enumerate(
        zip(pre_in.unbind(0), acts.unbind(0), cells.unbind(0), tanh_c.unbind(0), hidden.unbind(0), strict=True)
    ):
        torch.baddbmm(p, h_prev, w, out=a)
        if whole_sigmoid:
            a.sigmoid_()  # gates and candidate share one sigmoid; the candidate is fixed up to k (2 s - 1)
            torch.add(minus_two, cand[t], alpha=4.0, out=cand[t])
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
    """All (T, N, B, ·) but hidden (N, B, T, H); returns d pre (N, B, T, G), d W, d h0, d c0."""
    h = spec.hidden
    k = spec.tanh_scale
    steps, n, b, g = acts.shape
    zero = _constant(0.0, acts.dtype, acts.device)
    i, f, o, cand = acts.view(steps, n, b, 4, h).unbind(3)
    # coeff: d pre = coeff * [dc, dc, dh, dc] per block: i <- g D_i, f <- c_prev D_f, o <- tanh(c) D_o,
    # candidate <- i D_g; built in place over the gate derivatives.
    coeff = _gate_derivative(spec, acts).view(steps, n, b, 4, h)
    k_i, k_f, k_o, k_g = coeff.unbind(3)
    _one_minus_square(cand, k, out=k_g)
    k_g.mul_(i)
    torch.addcmul(zero, k_i, cand, value=1.0 / k, out=k_i)
    k_f[0].mul_(c0)
    if steps > 1:
        torch.addcmul(zero, k_f[1:], cells[:-1], value=1.0 / k, out=k_f[1:])
    k_o.mul_(tanh_c)
    dc_from_h = _one_minus_square(tanh_c).mul_(o)  # d c / d h through h = o tanh(c)
    d_pre = acts.new_empty(steps, n, b, 4, h)
    w_t = weight_hh.transpose(1, 2)  # (N, G, H), the real (unscaled) weights
    dh_buf = acts.new_empty(n, b, h)
    coeffs, dc_coeffs, fs, d_pres = coeff.unbind(0), dc_from_h.unbind(0), f.unbind(0), d_pre.unbind(0)
    d_hid = d_hidden.unbind(0)
    dc_next = d_c_last
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            dh = d_hid[t]
        else:
            dh = torch.baddbmm(d_hid[t], d_pres[t + 1].view(n, b, 4 * h), w_t, out=dh_buf)
        dc = dh * dc_coeffs[t] if dc_next is None else torch.addcmul(dc_next, dh, dc_coeffs[t])
        _blocks_times(spec, coeffs[t], dc, d_pres[t], odd=(2, dh))
        dc_next = dc * fs[t]
    d_h0 = torch.bmm(d_pres[0].view(n, b, 4 * h), w_t)
    d_pre = _model_layout(d_pre.view(steps, n, b, 4 * h))
    return d_pre, _weight_grad(h0, hidden, d_pre), d_h0, dc_next


# --- GRU --------------------------------------------------------------------------------------------------


def _gru_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor):
    """h = n + z (h_prev - n), n = tanh(P_n + r R_n), R = h_prev W.

    Returns activations [z, r, n], R, h_prev - n and h, each (T, N, B, ·).
    """
    steps, n, b, g = pre_in.shape
    h = spec.hidden
    acts = pre_in.new_empty(steps, n, b, g)
    recurrent = torch.empty_like(acts)
    diff = pre_in.new_empty(steps, n, b, h)
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
    """All (T, N, B, ·) but hidden (N, B, T, H); returns d pre (N, B, T, G), d W, d h0."""
    h = spec.hidden
    steps, n, b, _ = acts.shape
    zero = _constant(0.0, acts.dtype, acts.device)
    z, r, n_act = acts.view(steps, n, b, 3, h).unbind(3)
    rec_n = recurrent[..., 2 * h :]  # tanh_scale times R_n
    deriv = _gate_derivative(spec, acts).view(steps, n, b, 3, h)
    d_z, d_r, k2 = deriv.unbind(3)
    # d pre_n / d h = (1 - z)(1 - n^2), built in place over the n block.
    _one_minus_square(n_act, out=k2)
    torch.addcmul(k2, z, k2, value=-1.0, out=k2)
    # coeff: what flows back through W per unit d h: [d pre_z, d pre_r, d pre_n * r].
    coeff = acts.new_empty(steps, n, b, 3, h)
    c_z, c_r, c_n = coeff.unbind(3)
    torch.mul(diff, d_z, out=c_z)
    torch.addcmul(zero, k2, rec_n, value=1.0 / spec.tanh_scale, out=c_r)
    c_r.mul_(d_r)
    torch.mul(k2, r, out=c_n)
    d_rec = acts.new_empty(steps, n, b, 3, h)
    d_pre = acts.new_empty(steps, n, b, 3, h)
    w_t = weight_hh.transpose(1, 2)
    z_s, coeffs, k2s = z.unbind(0), coeff.unbind(0), k2.unbind(0)
    d_hid, d_recs, d_pre_n = d_hidden.unbind(0), d_rec.unbind(0), d_pre[..., 2, :].unbind(0)
    dh_next = None
    for t in range(steps - 1, -1, -1):
        if dh_next is None:
            dh = d_hid[t]
        else:
            carried = torch.addcmul(d_hid[t], dh_next, z_s[t + 1])
            dh = torch.baddbmm(carried, d_recs[t + 1].view(n, b, 3 * h), w_t)
        _blocks_times(spec, coeffs[t], dh, d_recs[t])
        torch.mul(k2s[t], dh, out=d_pre_n[t])
        dh_next = dh
    d_pre[..., :2, :] = d_rec[..., :2, :]  # z and r enter W's product and the input alike
    d_h0 = torch.baddbmm(dh_next * z_s[0], d_recs[0].view(n, b, 3 * h), w_t)
    d_rec = _model_layout(d_rec.view(steps, n, b, 3 * h))
    return _model_layout(d_pre.view(steps, n, b, 3 * h)), _weight_grad(h0, hidden, d_rec), d_h0


# --- RNN --------------------------------------------------------------------------------------------------


def _rnn_forward(spec: _Spec, pre_in: torch.Tensor, w: torch.Tensor, h0: torch.Tensor):
    hidden = torch.empty_like(pre_in)
    h_prev = h0
    for p, h_out in zip(pre_in.unbind(0), hidden.unbind(0), strict=True):
        torch.baddbmm(p, h_prev, w, out=h_out)
        _tanh_(spec, h_out)
        h_prev = h_out
    return (hidden,)


def _rnn_backward(spec, hidden_steps, hidden, h0, weight_hh, d_hidden):
    """hidden_steps and d_hidden (T, N, B, H), hidden (N, B, T, H); returns d pre (N, B, T, H), d W, d h0."""
    steps, n, b, h = hidden_steps.shape
    deriv = _one_minus_square(hidden_steps).unbind(0)
    d_pre = torch.empty_like(hidden_steps)
    d_pres, d_hid = d_pre.unbind(0), d_hidden.unbind(0)
    w_t = weight_hh.transpose(1, 2)
    for t in range(steps - 1, -1, -1):
        dh = d_hid[t] if t == steps - 1 else torch.baddbmm(d_hid[t], d_pres[t + 1], w_t)
        torch.mul(dh, deriv[t], out=d_pres[t])
    d_h0 = torch.bmm(d_pres[0], w_t)
    d_pre = _model_layout(d_pre)
    return d_pre, _weight_grad(h0, hidden, d_pre), d_h0


# --- autograd glue ----------------------------------------------------------------------------------------


class _Recurrence(torch.autograd.Function):
    """(projected (N, B, T, G), weight_hh (N, H, G), h0, c0) -> hidden (N, B, T, H)[, c_T (N, B, H)]."""

    @staticmethod
    def forward(ctx, spec, projected, weight_hh, h0, c0):  # type: ignore[override]
        scale, offset = _affine(spec, projected.dtype, projected.device)
        pre_in = _step_layout(projected).mul_(scale).add_(offset)  # (T, N, B, G)
        w = weight_hh * scale
        ctx.spec = spec
        ctx.set_materialize_grads(False)
        if spec.cell == "lstm":
            acts, cells, tanh_c, hidden_steps = _lstm_forward(spec, pre_in, w, h0, c0)
            hidden = _model_layout(hidden_steps)
            ctx.save_for_backward(acts, cells, tanh_c, hidden, h0, c0, weight_hh)
            c_last = cells[-1] / spec.tanh_scale if spec.wide else cells[-1].clone()
            return hidden, c_last
        if spec.cell == "gru":
            acts, recurrent, diff, hidden_steps = _gru_forward(spec, pre_in, w, h0)
            hidden = _model_layout(hidden_steps)
            ctx.save_for_backward(acts, recurrent, diff, hidden, h0, weight_hh)
            return hidden
        (hidden_steps,) = _rnn_forward(spec, pre_in, w, h0)
        hidden = _model_layout(hidden_steps)
        ctx.save_for_backward(hidden_steps, hidden, h0, weight_hh)
        return hidden

    @staticmethod
    def backward(ctx, d_hidden, d_c_last=None):  # type: ignore[override]
        spec = ctx.spec
        saved = ctx.saved_tensors
        hidden = saved[3] if spec.cell != "rnn" else saved[1]
        d_steps = torch.zeros_like(hidden) if d_hidden is None else d_hidden
        d_steps = _step_layout(d_steps)  # (T, N, B, H)
        d_c0 = None
        if spec.cell == "lstm":
            acts, cells, tanh_c, hidden, h0, c0, weight_hh = saved
            d_pre, d_w, d_h0, d_c0 = _lstm_backward(
                spec, acts, cells, tanh_c, hidden, h0, c0, weight_hh, d_steps, d_c_last
            )
        elif spec.cell == "gru":
            acts, recurrent, diff, hidden, h0, weight_hh = saved
            d_pre, d_w, d_h0 = _gru_backward(spec, acts, recurrent, diff, hidden, h0, weight_hh, d_steps)
        else:
            hidden_steps, hidden, h0, weight_hh = saved
            d_pre, d_w, d_h0 = _rnn_backward(spec, hidden_steps, hidden, h0, weight_hh, d_steps)
        return None, d_pre, d_w, d_h0, d_c0


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
        hidden (N, B, T, H) and the final state, as stepping `SequenceModel.advance` T times gives them.
    """
    n, b, _, _ = projected.shape
    hidden_size = weight_hh.shape[1]
    spec = _Spec(cell, gate, hidden_size, wide=n * b * hidden_size >= WIDE_MIN_ELEMENTS)
    h0 = state[0].contiguous()
    if cell == "lstm":
        hidden, c_last = _Recurrence.apply(spec, projected, weight_hh, h0, state[1].contiguous())
        return hidden, (hidden[:, :, -1], c_last)
    hidden = _Recurrence.apply(spec, projected, weight_hh, h0, None)
    return hidden, (hidden[:, :, -1],)
