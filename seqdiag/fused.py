"""The whole-sequence recurrence with a hand-written backward (BPTT): the open-loop fast path.

Why this exists: the models are tiny (H = 10), so autograd through T calls of `SequenceModel.advance`
is dominated by per-op overhead (about 1 µs per op at N = 1), and at N = 1024 by memory traffic, not by
arithmetic. Here the forward runs the T steps with few, in-place ops into preallocated step-major buffers
and records no graph; the backward runs the T steps back with about five ops each, everything that does
not depend on the step order (gate derivatives, the weight gradient) done once over all T. Autograd plugs
the result in as one node, so the embedding, readout, loss and optimizer stay plain autograd.

The inputs come in as a *table* of input pre-activation slabs and the slab each step reads. Open-loop
policies feed the same one-hot (or zero) vector to every model of the stack, so the table is the V + 1
possible slabs (one per symbol and one for the zero vector, a few hundred kB even at N = 1024, which stay
in cache) instead of T of them, and its gradient is a sum of the steps' gradients by symbol. Other inputs
use one slab per step.

It computes the same function as stepping `SequenceModel.advance`: gradients match plain autograd to
float tolerance for every cell and gate (tests/test_fused.py). Two reformulations, exact in real
arithmetic, are the only numerical differences; both are folded into the (small) table and recurrent
weights by autograd outside this node, which then works on scaled pre-activations z:

- Keras' hard_sigmoid clip(0.2 x + 0.5, 0, 1) is computed as written: z = 0.2 x + 0.5, gate = clip(z, 0, 1).
- For wide stacks tanh(x) is computed as 2 sigmoid(2 x) - 1 (z = 2 x): torch's CPU tanh is about 8x slower
  than its sigmoid, the biggest cost after the matrix products at N = 1024. Narrow stacks, where op count
  and not arithmetic is the cost, use plain tanh (z = x).

Shapes: N models, B rollouts, T steps, H hidden, G = blocks * H pre-activations (LSTM i, f, o, candidate;
GRU z, r, n; RNN h), the same column layout as `SequenceModel`. Everything the steps touch is stored
step-major (T, N, B, ...), so each step reads and writes contiguous memory (a step slice of an
(N, B, T, ...) tensor is strided and costs far more at N = 1024); hidden states leave as a permuted view.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

# Keras 0.x hard_sigmoid: clip(0.2 x + 0.5, 0, 1).
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
    """Wide stacks: tanh as 2 sigmoid(2x) - 1, and block-by-block products instead of one broadcast."""

    @property
    def gate_blocks(self) -> int:
        """How many leading H-wide blocks are gates (the rest are tanh blocks)."""
        return {"lstm": 3, "gru": 2, "rnn": 0}[self.cell]

    @property
    def blocks(self) -> int:
        return {"lstm": 4, "gru": 3, "rnn": 1}[self.cell]

    @property
    def k(self) -> float:
        """Tanh blocks see z = k x: 2 when tanh is computed as 2 sigmoid(2x) - 1, else 1."""
        return 2.0 if self.wide else 1.0


def _spec_for(cell: str, gate: str, n: int, b: int, hidden: int) -> _Spec:
    return _Spec(cell, gate, hidden, wide=n * b * hidden >= WIDE_MIN_ELEMENTS)


@functools.lru_cache(maxsize=64)
def _affine(spec: _Spec, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (scale, offset) from pre-activations x to the z this node works on: (G,) each."""
    h = spec.hidden
    gate_scale, gate_offset = (HARD_SLOPE, HARD_OFFSET) if spec.gate == "hard_sigmoid" else (1.0, 0.0)
    scale = torch.full((spec.blocks * h,), spec.k, dtype=dtype)
    offset = torch.zeros(spec.blocks * h, dtype=dtype)
    scale[: spec.gate_blocks * h] = gate_scale
    offset[: spec.gate_blocks * h] = gate_offset
    return scale.to(device), offset.to(device)


@functools.lru_cache(maxsize=64)
def _constant(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(value, dtype=dtype, device=device)


def _gate_(spec: _Spec, z: torch.Tensor) -> None:
    """Gate activation in place: clip(z, 0, 1) or sigmoid(z)."""
    if spec.gate == "hard_sigmoid":
        z.clamp_(0.0, 1.0)
    else:
        z.sigmoid_()


def _gate_derivative(spec: _Spec, a: torch.Tensor) -> torch.Tensor:
    """d gate / d z from the gate outputs a, as a new tensor, for all steps at once.

    sigmoid: a (1 - a). clip: 1 strictly inside [0, 1], like torch's hardsigmoid backward; a is clipped to
    [0, 1], so a - a^2 > 0 exactly there, and sign() avoids comparisons (slow on CPU).
    """
    u = torch.addcmul(a, a, a, value=-1.0)
    if spec.gate == "hard_sigmoid":
        u.sign_()
    return u


def _tanh_(spec: _Spec, z: torch.Tensor, times: float = 1.0) -> None:
    """In place: z -> times * tanh(z / k)."""
    if spec.wide:
        z.sigmoid_()
        # times * (2 s - 1) in one op; torch.add(const, z, alpha=...) writes straight back into z.
        torch.add(_constant(-times, z.dtype, z.device), z, alpha=2.0 * times, out=z)
    else:
        z.tanh_()
        if times != 1.0:
            z.mul_(times)


def _tanh(spec: _Spec, z: torch.Tensor, out: torch.Tensor) -> None:
    """out = tanh(z / k)."""
    if spec.wide:
        torch.sigmoid(z, out=out)
        torch.add(_constant(-1.0, z.dtype, z.device), out, alpha=2.0, out=out)
    else:
        torch.tanh(z, out=out)


def _one_minus_square(x: torch.Tensor, divide: float = 1.0, out: torch.Tensor | None = None) -> torch.Tensor:
    """1 - (x / divide)^2 in one op."""
    one = _constant(1.0, x.dtype, x.device)
    return torch.addcmul(one, x, x, value=-1.0 / (divide * divide), out=out)


def _weight_grad(h0: torch.Tensor, hidden: torch.Tensor, d_z: torch.Tensor) -> torch.Tensor:
    """sum over steps and rollouts of h_prev^T d_z: h0 (N, B, H), hidden (T, N, B, H), d_z (T, N, B, G)."""
    steps, n, b, h = hidden.shape
    first = torch.bmm(h0.transpose(1, 2), d_z[0])
    if steps == 1:
        return first
    # (N, H, (T-1) B) and (N, (T-1) B, G): strided views for B = 1 (valid BLAS layouts), copies otherwise.
    h_prev = hidden[:-1].permute(1, 3, 0, 2).reshape(n, h, (steps - 1) * b)
    d_rest = d_z[1:].permute(1, 0, 2, 3).reshape(n, (steps - 1) * b, d_z.shape[-1])
    return torch.baddbmm(first, h_prev, d_rest)


def _blocks_times(
    spec: _Spec,
    coeff: torch.Tensor,
    factor: torch.Tensor,
    out: torch.Tensor,
    odd: tuple[int, torch.Tensor] | None = None,
) -> None:
    """out[:, :, j] = coeff[:, :, j] * factor for every block j, except block odd[0], which takes odd[1].

    coeff and out are (N, B, blocks, H), the factors (N, B, H). Narrow stacks take one broadcast product
    (fewest ops); wide ones block by block (torch runs a broadcast over a middle dimension chunk by chunk).
    """
    if spec.wide:
        for j in range(coeff.shape[2]):
            torch.mul(coeff[:, :, j], odd[1] if odd is not None and j == odd[0] else factor, out=out[:, :, j])
        return
    torch.mul(coeff, factor.unsqueeze(-2), out=out)
    if odd is not None:
        torch.mul(coeff[:, :, odd[0]], odd[1], out=out[:, :, odd[0]])


# --- LSTM -------------------------------------------------------------------------------------------------


def _lstm_forward(spec: _Spec, slabs: list[torch.Tensor], w: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    """The LSTM forward for narrow stacks (few ops per step). slabs: step t's input z (N, 1 or B, G); w (N, H, G)
    maps h to z.

    Keeps c scaled by k (so tanh(c) is one sigmoid of the stored value) and the candidate g scaled by k to
    match; returns activations [i, f, o, k g], k c, tanh(c) and h, each (T, N, B, ·).
    """
    steps, (n, b, h) = len(slabs), h0.shape
    g = w.shape[-1]
    k = spec.k
    acts = h0.new_empty(steps, n, b, g)
    cells = h0.new_empty(steps, n, b, h)
    tanh_c = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    gates = acts[..., : 3 * h].unbind(0)
    cand = acts[..., 3 * h :].unbind(0)
    i_s, f_s, o_s = (acts[..., j * h : (j + 1) * h].unbind(0) for j in range(3))
    c = c0 * k if k != 1.0 else c0
    h_prev = h0
    for t, (p, a, c_out, tc_out, h_out) in enumerate(
        zip(slabs, acts.unbind(0), cells.unbind(0), tanh_c.unbind(0), hidden.unbind(0), strict=True)
    ):
        torch.baddbmm(p, h_prev, w, out=a)
        _gate_(spec, gates[t])
        _tanh_(spec, cand[t], times=k)
        torch.mul(f_s[t], c, out=c_out)
        c_out.addcmul_(i_s[t], cand[t])
        _tanh(spec, c_out, tc_out)
        torch.mul(o_s[t], tc_out, out=h_out)
        c, h_prev = c_out, h_out
    return acts, cells, tanh_c, hidden


def _lstm_backward(spec, acts, cells, tanh_c, hidden, h0, c0, w, d_hidden, d_c_last):
    """All (T, N, B, ·); returns d z (T, N, B, G), d w, d h0, d c0."""
    h = spec.hidden
    k = spec.k
    steps, n, b, g = acts.shape
    zero = _constant(0.0, acts.dtype, acts.device)
    i, f, o, cand = acts.view(steps, n, b, 4, h).unbind(3)
    # coeff: d z = coeff * [dc, dc, dh, dc] per block: i <- g D_i, f <- c_prev D_f, o <- tanh(c) D_o,
    # candidate <- i D_g with D_g = (1 - g^2) / k; built in place over the gate derivatives.
    coeff = _gate_derivative(spec, acts).view(steps, n, b, 4, h)
    k_i, k_f, k_o, k_g = coeff.unbind(3)
    _one_minus_square(cand, k, out=k_g)
    torch.addcmul(zero, k_g, i, value=1.0 / k, out=k_g)
    torch.addcmul(zero, k_i, cand, value=1.0 / k, out=k_i)
    k_f[0].mul_(c0)
    if steps > 1:
        torch.addcmul(zero, k_f[1:], cells[:-1], value=1.0 / k, out=k_f[1:])
    k_o.mul_(tanh_c)
    dc_from_h = _one_minus_square(tanh_c).mul_(o)  # d c / d h through h = o tanh(c)
    d_z = acts.new_empty(steps, n, b, 4, h)
    w_t = w.transpose(1, 2)  # (N, G, H)
    dh_buf = acts.new_empty(n, b, h)
    coeffs, dc_coeffs, fs, d_zs = coeff.unbind(0), dc_from_h.unbind(0), f.unbind(0), d_z.unbind(0)
    d_hid = d_hidden.unbind(0)
    dc_next = d_c_last
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            dh = d_hid[t]
        else:
            dh = torch.baddbmm(d_hid[t], d_zs[t + 1].view(n, b, 4 * h), w_t, out=dh_buf)
        dc = dh * dc_coeffs[t] if dc_next is None else torch.addcmul(dc_next, dh, dc_coeffs[t])
        _blocks_times(spec, coeffs[t], dc, d_zs[t], odd=(2, dh))
        dc_next = dc * fs[t]
    d_z = d_z.view(steps, n, b, 4 * h)
    d_h0 = torch.bmm(d_z[0], w_t)
    return d_z, _weight_grad(h0, hidden, d_z), d_h0, dc_next


def _lstm_forward_wide(spec: _Spec, slabs: list[torch.Tensor], w: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    """The LSTM forward for wide stacks, with activations stored block-major (T, 4, N, B, H).

    The one matrix product per step writes a row-major (N, B, 4H) scratch; one strided copy turns it
    block-major, so every later op of the step (and of the backward) runs on contiguous blocks instead of
    on H-wide strided slices, which cost ~5x more each at N = 1024. Same values as `_lstm_forward`.
    """
    steps, (n, b, h) = len(slabs), h0.shape
    k = spec.k
    acts = h0.new_empty(steps, 4, n, b, h)
    cells = h0.new_empty(steps, n, b, h)
    tanh_c = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    row = h0.new_empty(n, b, 4 * h)
    minus_k = _constant(-k, acts.dtype, acts.device)
    minus_one = _constant(-1.0, acts.dtype, acts.device)
    c = c0 * k
    h_prev = h0
    for p, a, c_out, tc_out, h_out in zip(
        slabs, acts.unbind(0), cells.unbind(0), tanh_c.unbind(0), hidden.unbind(0), strict=True
    ):
        torch.baddbmm(p, h_prev, w, out=row)
        a.copy_(row.view(n, b, 4, h).permute(2, 0, 1, 3))
        i, f, o, cand = a.unbind(0)
        if spec.gate == "sigmoid":
            a.sigmoid_()
        else:
            a[:3].clamp_(0.0, 1.0)
            cand.sigmoid_()
        torch.add(minus_k, cand, alpha=2.0 * k, out=cand)  # k (2 s - 1) = k tanh(z / k)
        torch.mul(f, c, out=c_out)
        c_out.addcmul_(i, cand)
        torch.sigmoid(c_out, out=tc_out)
        torch.add(minus_one, tc_out, alpha=2.0, out=tc_out)
        torch.mul(o, tc_out, out=h_out)
        c, h_prev = c_out, h_out
    return acts, cells, tanh_c, hidden


def _lstm_backward_wide(spec, acts, cells, tanh_c, hidden, h0, c0, w, d_hidden, d_c_last):
    """Backward of `_lstm_forward_wide`; returns d z (T, N, B, G), d w, d h0, d c0.

    The coefficients are computed step by step on contiguous blocks while they are in cache, instead of in
    passes over (T, N, B, ...) arrays; one strided copy per step turns the step's d z row-major, as the
    next step's matrix product and the weight gradient (one product over all steps) need it.
    """
    k = spec.k
    steps, _, n, b, h = acts.shape
    zero = _constant(0.0, acts.dtype, acts.device)
    one = _constant(1.0, acts.dtype, acts.device)
    d_z = acts.new_empty(steps, n, b, 4 * h)
    d_blocks = acts.new_empty(4, n, b, h)
    d_gate = acts.new_empty(3, n, b, h)
    dc_coeff = acts.new_empty(n, b, h)
    dh_buf = acts.new_empty(n, b, h)
    w_t = w.transpose(1, 2)  # (N, G, H)
    d_hid, d_zs = d_hidden.unbind(0), d_z.unbind(0)
    act_s, cell_s, tc_s = acts.unbind(0), cells.unbind(0), tanh_c.unbind(0)
    d_i, d_f, d_o, d_g = d_blocks.unbind(0)
    dc_next = d_c_last
    for t in range(steps - 1, -1, -1):
        a, tc = act_s[t], tc_s[t]
        i, f, o, cand = a.unbind(0)
        if t == steps - 1:
            dh = d_hid[t]
        else:
            dh = torch.baddbmm(d_hid[t], d_zs[t + 1], w_t, out=dh_buf)
        torch.addcmul(one, tc, tc, value=-1.0, out=dc_coeff)
        dc_coeff.mul_(o)
        dc = dh * dc_coeff if dc_next is None else torch.addcmul(dc_next, dh, dc_coeff)
        gates = a[:3]
        torch.addcmul(gates, gates, gates, value=-1.0, out=d_gate)  # sigmoid': a (1 - a)
        if spec.gate == "hard_sigmoid":
            d_gate.sign_()  # clip': 1 strictly inside (0, 1)
        torch.addcmul(zero, dc, cand, value=1.0 / k, out=d_i)  # dc g
        if t > 0:
            torch.addcmul(zero, dc, cell_s[t - 1], value=1.0 / k, out=d_f)  # dc c_prev
        else:
            torch.mul(dc, c0, out=d_f)
        torch.mul(dh, tc, out=d_o)
        d_blocks[:3].mul_(d_gate)
        torch.addcmul(one, cand, cand, value=-1.0 / (k * k), out=d_g)  # 1 - g^2
        d_g.mul_(i)
        torch.addcmul(zero, d_g, dc, value=1.0 / k, out=d_g)  # dc i (1 - g^2) / k
        d_zs[t].view(n, b, 4, h).copy_(d_blocks.permute(1, 2, 0, 3))
        dc_next = dc * f
    d_h0 = torch.bmm(d_z[0], w_t)
    return d_z, _weight_grad(h0, hidden, d_z), d_h0, dc_next


# --- GRU --------------------------------------------------------------------------------------------------


def _gru_forward(spec: _Spec, slabs: list[torch.Tensor], w: torch.Tensor, h0: torch.Tensor):
    """h = n + z (h_prev - n), n = tanh(z_n / k), z_n = P_n + r R_n, R = h_prev w.

    Returns activations [z, r, n], R, h_prev - n and h, each (T, N, B, ·).
    """
    steps, (n, b, h) = len(slabs), h0.shape
    acts = h0.new_empty(steps, n, b, w.shape[-1])
    recurrent = torch.empty_like(acts)
    diff = h0.new_empty(steps, n, b, h)
    hidden = torch.empty_like(diff)
    zr = acts[..., : 2 * h].unbind(0)
    r_zr = recurrent[..., : 2 * h].unbind(0)
    z_s = acts[..., :h].unbind(0)
    r_s = acts[..., h : 2 * h].unbind(0)
    n_s = acts[..., 2 * h :].unbind(0)
    r_n = recurrent[..., 2 * h :].unbind(0)
    h_prev = h0
    for t, (p, rec, d_out, h_out) in enumerate(
        zip(slabs, recurrent.unbind(0), diff.unbind(0), hidden.unbind(0), strict=True)
    ):
        torch.bmm(h_prev, w, out=rec)
        torch.add(p[..., : 2 * h], r_zr[t], out=zr[t])
        _gate_(spec, zr[t])
        torch.addcmul(p[..., 2 * h :], r_s[t], r_n[t], out=n_s[t])
        _tanh_(spec, n_s[t])
        torch.sub(h_prev, n_s[t], out=d_out)
        torch.addcmul(n_s[t], z_s[t], d_out, out=h_out)
        h_prev = h_out
    return acts, recurrent, diff, hidden


def _gru_backward(spec, acts, recurrent, diff, hidden, h0, w, d_hidden):
    """All (T, N, B, ·); returns d z (T, N, B, G), d w, d h0."""
    h = spec.hidden
    steps, n, b, _ = acts.shape
    z, r, n_act = acts.view(steps, n, b, 3, h).unbind(3)
    rec_n = recurrent[..., 2 * h :]
    deriv = _gate_derivative(spec, acts).view(steps, n, b, 3, h)
    d_z, d_r, k2 = deriv.unbind(3)
    # d z_n / d h = (1 - z)(1 - n^2) / k, built in place over the n block.
    _one_minus_square(n_act, out=k2)
    torch.addcmul(k2, z, k2, value=-1.0, out=k2)
    if spec.k != 1.0:
        k2.mul_(1.0 / spec.k)
    # coeff: what flows back through w per unit d h: [d z_z, d z_r, d z_n * r].
    coeff = acts.new_empty(steps, n, b, 3, h)
    c_z, c_r, c_n = coeff.unbind(3)
    torch.mul(diff, d_z, out=c_z)
    torch.mul(k2, rec_n, out=c_r)
    c_r.mul_(d_r)
    torch.mul(k2, r, out=c_n)
    d_rec = acts.new_empty(steps, n, b, 3, h)
    d_in = acts.new_empty(steps, n, b, 3, h)
    w_t = w.transpose(1, 2)
    z_s, coeffs, k2s = z.unbind(0), coeff.unbind(0), k2.unbind(0)
    d_hid, d_recs, d_in_n = d_hidden.unbind(0), d_rec.unbind(0), d_in[..., 2, :].unbind(0)
    dh_next = None
    for t in range(steps - 1, -1, -1):
        if dh_next is None:
            dh = d_hid[t]
        else:
            carried = torch.addcmul(d_hid[t], dh_next, z_s[t + 1])
            dh = torch.baddbmm(carried, d_recs[t + 1].view(n, b, 3 * h), w_t)
        _blocks_times(spec, coeffs[t], dh, d_recs[t])
        torch.mul(k2s[t], dh, out=d_in_n[t])
        dh_next = dh
    d_in[..., :2, :] = d_rec[..., :2, :]  # z and r enter the input's z and w's product alike
    d_rec = d_rec.view(steps, n, b, 3 * h)
    d_h0 = torch.baddbmm(dh_next * z_s[0], d_rec[0], w_t)
    return d_in.view(steps, n, b, 3 * h), _weight_grad(h0, hidden, d_rec), d_h0


# --- RNN --------------------------------------------------------------------------------------------------


def _rnn_forward(spec: _Spec, slabs: list[torch.Tensor], w: torch.Tensor, h0: torch.Tensor):
    hidden = h0.new_empty(len(slabs), *h0.shape)
    h_prev = h0
    for p, h_out in zip(slabs, hidden.unbind(0), strict=True):
        torch.baddbmm(p, h_prev, w, out=h_out)
        _tanh_(spec, h_out)
        h_prev = h_out
    return (hidden,)


def _rnn_backward(spec, hidden, h0, w, d_hidden):
    """All (T, N, B, H); returns d z, d w, d h0."""
    steps, n, b, h = hidden.shape
    deriv = _one_minus_square(hidden)
    if spec.k != 1.0:
        deriv.mul_(1.0 / spec.k)
    d_z = torch.empty_like(hidden)
    d_zs, d_hid, derivs = d_z.unbind(0), d_hidden.unbind(0), deriv.unbind(0)
    w_t = w.transpose(1, 2)
    for t in range(steps - 1, -1, -1):
        dh = d_hid[t] if t == steps - 1 else torch.baddbmm(d_hid[t], d_zs[t + 1], w_t)
        torch.mul(dh, derivs[t], out=d_zs[t])
    return d_z, _weight_grad(h0, hidden, d_z), torch.bmm(d_z[0], w_t)


# --- autograd glue ----------------------------------------------------------------------------------------


class _Recurrence(torch.autograd.Function):
    """(table (K, N, 1 or B, G), w (N, H, G), h0, c0) -> hidden (T, N, B, H)[, c_T (N, B, H)].

    `steps` lists the table slab each step reads; table and w are in z units (see the module docstring).
    """

    @staticmethod
    def forward(ctx, spec, steps, table, w, h0, c0):  # type: ignore[override]
        ctx.spec, ctx.steps = spec, steps
        ctx.table_shape = table.shape
        ctx.set_materialize_grads(False)
        slab_of = table.unbind(0)
        slabs = [slab_of[i] for i in steps]
        if spec.cell == "lstm":
            forward = _lstm_forward_wide if spec.wide else _lstm_forward
            acts, cells, tanh_c, hidden = forward(spec, slabs, w, h0, c0)
            ctx.save_for_backward(acts, cells, tanh_c, hidden, h0, c0, w)
            c_last = cells[-1] / spec.k if spec.wide else cells[-1].clone()
            return hidden, c_last
        if spec.cell == "gru":
            saved = _gru_forward(spec, slabs, w, h0)
        else:
            saved = _rnn_forward(spec, slabs, w, h0)
        ctx.save_for_backward(*saved, h0, w)
        return saved[-1]

    @staticmethod
    def backward(ctx, d_hidden, d_c_last=None):  # type: ignore[override]
        spec = ctx.spec
        saved = ctx.saved_tensors
        hidden = saved[-3] if spec.cell != "lstm" else saved[3]
        d_hidden = torch.zeros_like(hidden) if d_hidden is None else d_hidden.contiguous()  # (T, N, B, H)
        d_c0 = None
        if spec.cell == "lstm":
            acts, cells, tanh_c, hidden, h0, c0, w = saved
            backward = _lstm_backward_wide if spec.wide else _lstm_backward
            d_z, d_w, d_h0, d_c0 = backward(spec, acts, cells, tanh_c, hidden, h0, c0, w, d_hidden, d_c_last)
        elif spec.cell == "gru":
            acts, recurrent, diff, hidden, h0, w = saved
            d_z, d_w, d_h0 = _gru_backward(spec, acts, recurrent, diff, hidden, h0, w, d_hidden)
        else:
            hidden, h0, w = saved
            d_z, d_w, d_h0 = _rnn_backward(spec, hidden, h0, w, d_hidden)
        return None, None, _table_grad(ctx.steps, ctx.table_shape, d_z), d_w, d_h0, d_c0


def _table_grad(steps: list[int], shape: torch.Size, d_z: torch.Tensor) -> torch.Tensor:
    """Each slab's gradient: the sum of the steps' d z that read it (over rollouts too, for shared slabs)."""
    if steps == list(range(len(steps))) and shape[0] == len(steps) and shape[2] == d_z.shape[2]:
        return d_z  # one slab per step, the common case for inputs that are not shared
    if shape[2] != d_z.shape[2]:
        d_z = d_z.sum(2, keepdim=True)
    index = torch.tensor(steps, device=d_z.device)
    return d_z.new_zeros(shape).index_add_(0, index, d_z)


def shared_symbols(x: torch.Tensor) -> list[int] | None:
    """The symbol each step feeds when every model and rollout is fed the same one-hot or zero vectors.

    x: (N, B, T, V). Returns one index per step (V for a zero vector), or None when the inputs differ
    across the stack or are not one-hot/zero (then each step gets its own slab).
    """
    base = x[0, 0]  # (T, V)
    expanded = all(x.stride(d) == 0 or x.shape[d] == 1 for d in (0, 1))  # e.g. from .expand(N, B, T, V)
    if not expanded and not torch.equal(x, base.expand_as(x)):
        return None
    ones = base.sum(-1)
    if not bool(((base == 0) | (base == 1)).all() & (ones <= 1).all()):
        return None
    return torch.where(ones == 0, base.shape[-1], base.argmax(-1)).tolist()


def sequence_forward(model, x: torch.Tensor, state: tuple[torch.Tensor, ...]):
    """`SequenceModel.forward` through the fused node: hidden (N, B, T, H) (a view) and the final state.

    The table of input slabs and the scaled recurrent weights are built here with autograd, so the
    embedding, input projection and recurrent weights get their gradients through them.
    """
    n, b, steps, v = x.shape
    spec = _spec_for(model.cell, model.config.gate, n, b, model.hidden_size)
    scale, offset = _affine(spec, x.dtype, x.device)
    symbols = shared_symbols(x)
    if symbols is not None:
        # One slab per symbol plus the zero vector: (one-hot_v @ E + e) @ W_ih + b_ih, scaled to z.
        rows = torch.cat([model.embed_weight, model.embed_weight.new_zeros(n, 1, model.embed_weight.shape[-1])], 1)
        rows = rows + model.embed_bias.unsqueeze(1)  # (N, V + 1, E)
        table = torch.baddbmm(model.cell_bias.unsqueeze(1), rows, model.cell_weight_ih)  # (N, V + 1, G)
        table = torch.addcmul(offset, table, scale).transpose(0, 1).unsqueeze(2).contiguous()  # (V + 1, N, 1, G)
        reads = symbols
    else:
        projected = model.project_input(x)  # (N, B, T, G)
        table = torch.addcmul(offset, projected.permute(2, 0, 1, 3).contiguous(), scale)  # (T, N, B, G)
        reads = list(range(steps))
    w = model.cell_weight_hh * scale
    h0 = state[0].contiguous()
    if model.cell == "lstm":
        hidden, c_last = _Recurrence.apply(spec, reads, table, w, h0, state[1].contiguous())
        return hidden.permute(1, 2, 0, 3), (hidden[-1], c_last)
    hidden = _Recurrence.apply(spec, reads, table, w, h0, None)
    return hidden.permute(1, 2, 0, 3), (hidden[-1],)
