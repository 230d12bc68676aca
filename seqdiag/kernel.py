"""The numba kernels: a whole training step (forward, backward through time, optimizer) and the sampling
procedures, compiled to machine code, for the CPU engine (`seqdiag.engine`).

Import this module only through `seqdiag.engine.kernels()`, which points numba's cache at the user cache
directory first (numba reads it when the functions below are decorated).

Why: the models are tiny (about 184k FLOP a seed-step), so the torch engine's cost is per-op dispatch. Here
a training step of a block of models is plain loops. Layout: every array keeps the *models* innermost, a
block of L models side by side (`(..., L)`, C-contiguous), so each loop over the models is one run of
unit-stride arithmetic the compiler vectorises, and a model's arithmetic does not depend on where in the
block it sits (no fast-math: no reassociation or fused multiply-add, so lanes compute exactly what a lone
model would). The parameters of a block are copied into a contiguous (P, L) array at the start of a call and
back at the end; between, they stay in cache for every step.

Parameters, flattened per model in `SequenceModel.parameters()` order (offsets from `offsets`):
embed_weight (V, E), embed_bias (E), cell_weight_ih (E, G), cell_weight_hh (H, G), cell_bias (G),
out_weight (H, V), out_bias (V), with G = 4 H for the LSTM (columns i, f, o, candidate), 3 H for the GRU
(z, r, n) and H for the plain RNN, the columns of `SequenceModel`.

Cells: the training step and the procedures are written once (`train_block`, `predict_block`) over a cell's
step and its backward. The cell is chosen by the type of the first argument (`cell_tag`), so numba compiles
(and caches) each cell's machine code apart, the first time a run needs that cell.

Every input a step is fed is a one-hot symbol or the zero vector (symbol V), so the input pre-activations
are a table of V + 1 rows per model, `(embed_weight[s] + embed_bias) @ cell_weight_ih + cell_bias`, built
once a step; its gradient is summed per symbol and turned into the embedding and input weights' at the end.

Arithmetic follows the torch engine's formulas (`SequenceModel.advance`, torch's RMSprop/Adam/SGD); in
float32 tanh is a rational approximation (Eigen's, within a few ulp: numba has no vectorised tanh), and
sigmoid is 0.5 + 0.5 tanh(x / 2); in float64 both are the exact library functions, so gradients can be
checked against autograd to 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

# Codes passed to the kernels (small ints keep one compiled variant for every choice).
GATE_HARD, GATE_SIGMOID = 0, 1
OPT_RMSPROP, OPT_ADAM, OPT_SGD = 0, 1, 2
POLICY_TEACHER, POLICY_ZEROS, POLICY_FREE, POLICY_SCHEDULED = 0, 1, 2, 3
STATE_CARRIED, STATE_PREFIX, STATE_FRESH = 0, 1, 2  # a procedure's state handling (`seqdiag.procedures`)

HARD_SLOPE = 0.2
HARD_OFFSET = 0.5

# Eigen's float tanh (generic_fast_tanh_float): odd/even polynomials on [-7.9053, 7.9053], identity below 4e-4.
_TANH_CLAMP = 7.90531110763549805
_TANH_TINY = 0.0004
_ALPHA = (
    -2.76076847742355e-16,
    2.00018790482477e-13,
    -8.60467152213735e-11,
    5.12229709037114e-08,
    1.48572235717979e-05,
    6.37261928875436e-04,
    4.89352455891786e-03,
)
_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


def _tanh(x):  # pragma: no cover - replaced by the overload below inside compiled code
    return math.tanh(x)


@overload(_tanh)
def _tanh_impl(x):
    if x == types.float32:
        a0, a1, a2, a3, a4, a5, a6 = (np.float32(v) for v in _ALPHA)
        b0, b1, b2, b3 = (np.float32(v) for v in _BETA)
        hi, lo, tiny = np.float32(_TANH_CLAMP), np.float32(-_TANH_CLAMP), np.float32(_TANH_TINY)

        def fast(x):
            y = min(max(x, lo), hi)
            y2 = y * y
            p = y2 * a0 + a1
            p = y2 * p + a2
            p = y2 * p + a3
            p = y2 * p + a4
            p = y2 * p + a5
            p = y2 * p + a6
            p = y * p
            q = y2 * b0 + b1
            q = y2 * q + b2
            q = y2 * q + b3
            return x if abs(x) < tiny else p / q

        return fast

    def exact(x):
        return math.tanh(x)

    return exact


def _sigmoid(x):  # pragma: no cover - replaced by the overload below inside compiled code
    return 1.0 / (1.0 + math.exp(-x))


@overload(_sigmoid)
def _sigmoid_impl(x):
    if x == types.float32:
        half = np.float32(0.5)

        def fast(x):
            return half + half * _tanh(half * x)

        return fast

    def exact(x):
        return 1.0 / (1.0 + math.exp(-x))

    return exact


@njit(cache=True, error_model="numpy")
def tanh_values(x):
    """The kernel's tanh over an array (for the accuracy test)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _tanh(x[i])
    return out


@njit(cache=True, error_model="numpy")
def sigmoid_values(x):
    """The kernel's sigmoid over an array (for the accuracy test)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _sigmoid(x[i])
    return out


@njit(cache=True, error_model="numpy")
def offsets(v, e, h, g):
    """Start of each parameter in the flat per-model vector, and its length P (G = the cell's columns)."""
    o_we = 0
    o_be = o_we + v * e
    o_wih = o_be + e
    o_whh = o_wih + e * g
    o_b = o_whh + h * g
    o_wo = o_b + g
    o_bo = o_wo + h * v
    return o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, o_bo + v


@njit(cache=True, error_model="numpy")
def _take(a, lo, hi):
    """Columns lo:hi of a (P, N) array as a new contiguous (P, hi - lo) array (explicit loops: numba's slice
    copies take seconds each to compile)."""
    out = np.empty((a.shape[0], hi - lo), a.dtype)
    for r in range(a.shape[0]):
        for m in range(hi - lo):
            out[r, m] = a[r, lo + m]
    return out


@njit(cache=True, error_model="numpy")
def _put(a, lo, block):
    """Write a (P, L) block back into columns lo:lo + L of a (P, N) array."""
    for r in range(block.shape[0]):
        for m in range(block.shape[1]):
            a[r, lo + m] = block[r, m]


@njit(cache=True, error_model="numpy")
def _table(th, v, e, h, g, emb, tab):
    """Input pre-activations per symbol: emb (V + 1, E, L) embedded rows, tab (V + 1, G, L)."""
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h, g)
    lanes = th.shape[1]
    for s in range(v + 1):
        for k in range(e):
            for m in range(lanes):
                if s < v:
                    emb[s, k, m] = th[o_we + s * e + k, m] + th[o_be + k, m]
                else:
                    emb[s, k, m] = th[o_be + k, m]
        for j in range(g):
            for m in range(lanes):
                tab[s, j, m] = th[o_b + j, m]
            for k in range(e):
                for m in range(lanes):
                    tab[s, j, m] += emb[s, k, m] * th[o_wih + k * g + j, m]


@njit(error_model="numpy", inline="always")
def _rows(tab, sym, shared, g, act):
    """act (G, L) = each lane's table row: row `shared` for every lane when >= 0, else row sym[m] for lane m."""
    lanes = act.shape[1]
    for j in range(g):
        if shared >= 0:
            for m in range(lanes):
                act[j, m] = tab[shared, j, m]
        else:
            for m in range(lanes):
                act[j, m] = tab[sym[m], j, m]


@njit(error_model="numpy", inline="always")
def _add_recurrent(th, o_whh, h, g, hprev, act):
    """act (G, L) += hprev (H, L) @ W_hh, summed over H in order for each column."""
    lanes = th.shape[1]
    if lanes == 1:
        # One model: loops over the gate columns instead of one-lane loops (same sums in the same order).
        for k in range(h):
            hk = hprev[k, 0]
            for j in range(g):
                act[j, 0] += hk * th[o_whh + k * g + j, 0]
    else:
        for j in range(g):
            for k in range(h):
                for m in range(lanes):
                    act[j, m] += hprev[k, m] * th[o_whh + k * g + j, m]


@njit(error_model="numpy", inline="always")
def _gate_grad(gate, y, slope, zero, one):
    """A gate's derivative from its output y: hard_sigmoid's slope where y is strictly inside (0, 1), else 0 (the
    kinks included, as `seqdiag.fused._gate_derivative` takes it); sigmoid's y (1 - y)."""
    if gate == GATE_HARD:
        return slope if zero < y < one else zero
    return y * (one - y)


# --- the cells ------------------------------------------------------------------------------------------------
# Each cell is a step and its backward, with the same signatures; `_step` and `_back` pick a cell's pair when
# numba compiles `train_block` / `predict_block` for that cell's tag (so the other cells are never compiled):
#
#   step(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out): one step for a block of L models;
#     hprev (H, L) the previous hidden state, aprev (A, L) the previous step's extra values (zeros at the first
#     step); writes act (G, L) and aux (A, L), what the backward needs, and h_out (H, L).
#   back(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next): from dh (H, L), the loss's gradient
#     with respect to the step's h_out, and carry (H, L), a gradient the cell carries back itself (the LSTM's
#     d c; zeros at the last step, updated in place): writes dz (G, L), the gradient of the step's table row
#     (its input pre-activations), and dh_next, the part of d hprev that does not go through W_hh; returns the
#     gradient of hprev @ W_hh (dz itself where the cell adds the two before any nonlinearity, else dr).


def _lstm_step(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out):
    """LSTM: act = [i, f, o, candidate] (G = 4 H), aux = [c, tanh c] (A = 2 H); aprev[:H] is c_prev."""
    g = 4 * h
    o_whh = offsets(v, e, h, g)[3]
    lanes = th.shape[1]
    slope = act.dtype.type(HARD_SLOPE)
    offset = act.dtype.type(HARD_OFFSET)
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    _rows(tab, sym, shared, g, act)
    _add_recurrent(th, o_whh, h, g, hprev, act)
    for j in range(3 * h):
        if gate == GATE_HARD:
            for m in range(lanes):
                act[j, m] = min(max(slope * act[j, m] + offset, zero), one)
        else:
            for m in range(lanes):
                act[j, m] = _sigmoid(act[j, m])
    for j in range(3 * h, g):
        for m in range(lanes):
            act[j, m] = _tanh(act[j, m])
    for k in range(h):
        for m in range(lanes):
            c = act[h + k, m] * aprev[k, m] + act[k, m] * act[3 * h + k, m]
            aux[k, m] = c
            tc = _tanh(c)
            aux[h + k, m] = tc
            h_out[k, m] = act[2 * h + k, m] * tc


def _lstm_back(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next):
    """carry is d c; dz also feeds W_hh (z = table row + hprev @ W_hh)."""
    lanes = th.shape[1]
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    slope = act.dtype.type(HARD_SLOPE)
    for q in range(h):
        for m in range(lanes):
            i_g = act[q, m]
            f_g = act[h + q, m]
            o_g = act[2 * h + q, m]
            c_g = act[3 * h + q, m]
            tc = aux[h + q, m]
            c_prev = aprev[q, m]
            d_c = carry[q, m] + dh[q, m] * o_g * (one - tc * tc)
            gi = _gate_grad(gate, i_g, slope, zero, one)
            gf = _gate_grad(gate, f_g, slope, zero, one)
            go = _gate_grad(gate, o_g, slope, zero, one)
            dz[q, m] = d_c * c_g * gi
            dz[h + q, m] = d_c * c_prev * gf
            dz[2 * h + q, m] = dh[q, m] * tc * go
            dz[3 * h + q, m] = d_c * i_g * (one - c_g * c_g)
            carry[q, m] = d_c * f_g
            dh_next[q, m] = zero
    return dz


def _gru_step(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out):
    """GRU, as `SequenceModel.advance`: R = hprev @ W_hh (no recurrent bias), [z, r] = gate(P[:2H] + R[:2H]),
    n = tanh(P_n + r R_n), h = n + z (hprev - n). act = [z, r, n] (G = 3 H), aux = R_n (A = H)."""
    g = 3 * h
    o_whh = offsets(v, e, h, g)[3]
    lanes = th.shape[1]
    slope = act.dtype.type(HARD_SLOPE)
    offset = act.dtype.type(HARD_OFFSET)
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    for j in range(g):
        for m in range(lanes):
            act[j, m] = zero
    _add_recurrent(th, o_whh, h, g, hprev, act)  # R alone: torch adds P to the finished product
    for q in range(h):
        for m in range(lanes):
            aux[q, m] = act[2 * h + q, m]
    for j in range(2 * h):
        for m in range(lanes):
            row = shared if shared >= 0 else sym[m]
            x = tab[row, j, m] + act[j, m]
            if gate == GATE_HARD:
                act[j, m] = min(max(slope * x + offset, zero), one)
            else:
                act[j, m] = _sigmoid(x)
    for q in range(h):
        for m in range(lanes):
            row = shared if shared >= 0 else sym[m]
            n = _tanh(tab[row, 2 * h + q, m] + act[h + q, m] * aux[q, m])
            act[2 * h + q, m] = n
            h_out[q, m] = n + act[q, m] * (hprev[q, m] - n)


def _gru_back(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next):
    """dz = d [z, r, n] pre-activations (the table row's gradient); dr = d R = [dz_z, dz_r, dz_n r]; dh_next = dh z."""
    lanes = th.shape[1]
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    slope = act.dtype.type(HARD_SLOPE)
    for q in range(h):
        for m in range(lanes):
            z_g = act[q, m]
            r_g = act[h + q, m]
            n = act[2 * h + q, m]
            d = dh[q, m]
            gz = _gate_grad(gate, z_g, slope, zero, one)
            gr = _gate_grad(gate, r_g, slope, zero, one)
            d_n = d * (one - z_g) * (one - n * n)
            d_z = d * (hprev[q, m] - n) * gz
            d_r = d_n * aux[q, m] * gr
            dz[q, m] = d_z
            dz[h + q, m] = d_r
            dz[2 * h + q, m] = d_n
            dr[q, m] = d_z
            dr[h + q, m] = d_r
            dr[2 * h + q, m] = d_n * r_g
            dh_next[q, m] = d * z_g
    return dr


def _rnn_step(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out):
    """Plain RNN: h = tanh(P + hprev @ W_hh); act = h (G = H), no aux (A = 0); `gate` is unused."""
    o_whh = offsets(v, e, h, h)[3]
    lanes = th.shape[1]
    _rows(tab, sym, shared, h, act)
    _add_recurrent(th, o_whh, h, h, hprev, act)
    for q in range(h):
        for m in range(lanes):
            a = _tanh(act[q, m])
            act[q, m] = a
            h_out[q, m] = a


def _rnn_back(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next):
    lanes = th.shape[1]
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    for q in range(h):
        for m in range(lanes):
            a = act[q, m]
            dz[q, m] = dh[q, m] * (one - a * a)
            dh_next[q, m] = zero
    return dz


# --- choosing the cell when numba compiles ------------------------------------------------------------------
# The cell travels as the dtype of an empty array, the tag (`cell_tag`): numba compiles `train_block` and
# `predict_block` once per argument types, so each cell gets its own machine code (cached apart), compiled
# only when a run first asks for that cell; the calls below resolve to the cell's functions at that compile.

CELLS = ("lstm", "gru", "rnn")
_TAG_DTYPES = {"lstm": np.uint8, "gru": np.uint16, "rnn": np.uint32}
# cell: (its step, its backward, G / H, A / H)
_CELL_PARTS = {
    "lstm": (_lstm_step, _lstm_back, 4, 2),
    "gru": (_gru_step, _gru_back, 3, 1),
    "rnn": (_rnn_step, _rnn_back, 1, 0),
}


def cell_tag(cell: str) -> np.ndarray:
    """The tag that makes the kernels compute `cell` ("lstm", "gru" or "rnn")."""
    return np.empty(0, _TAG_DTYPES[cell])


def _cell_of(tag) -> str:
    """The cell a tag's numba type stands for."""
    for cell, dtype in _TAG_DTYPES.items():
        if str(tag.dtype) == np.dtype(dtype).name:  # numba's scalar types print as numpy's names
            return cell
    raise TypeError(f"not a cell tag: {tag}")


def _step(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out):  # pragma: no cover
    """The tag's cell's step (see the cells above); replaced inside compiled code."""


def _back(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next):  # pragma: no cover
    """The tag's cell's backward; replaced inside compiled code."""


def _sizes(tag):  # pragma: no cover
    """(G / H, A / H) of the tag's cell; replaced inside compiled code."""


@overload(_step)
def _step_impl(tag, th, v, e, h, gate, tab, sym, shared, hprev, aprev, act, aux, h_out):
    return _CELL_PARTS[_cell_of(tag)][0]


@overload(_back, inline="always")
def _back_impl(tag, th, h, gate, act, aux, aprev, hprev, dh, carry, dz, dr, dh_next):
    return _CELL_PARTS[_cell_of(tag)][1]


@overload(_sizes)
def _sizes_impl(tag):
    blocks, aux_blocks = _CELL_PARTS[_cell_of(tag)][2:]
    return lambda tag: (blocks, aux_blocks)


# --- the generic training step and sampling procedures -----------------------------------------------------


@njit(cache=True, error_model="numpy")
def _logits(th, v, e, h, g, hid, y):
    """y (V, L) = hid (H, L) @ W_out + b_out."""
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h, g)
    lanes = th.shape[1]
    for s in range(v):
        for m in range(lanes):
            y[s, m] = th[o_bo + s, m]
        for k in range(h):
            for m in range(lanes):
                y[s, m] += hid[k, m] * th[o_wo + k * v + s, m]


@njit(cache=True, error_model="numpy")
def _argmax(y, out, top):
    """out[m] = the first index of the largest y[:, m] (torch's argmax on ties); top (L,) scratch: the largest.
    Symbols outer, lanes inner, so each pass over the lanes vectorises."""
    v, lanes = y.shape
    for m in range(lanes):
        out[m] = 0
        top[m] = y[0, m]
    for s in range(1, v):
        for m in range(lanes):
            if y[s, m] > top[m]:
                top[m] = y[s, m]
                out[m] = s


@njit(cache=True, nogil=True, error_model="numpy")
def train_block(
    tag,
    theta,
    prev,
    state1,
    state2,
    grads,
    dims,
    gate,
    optimizer,
    hyper,
    step0,
    policy,
    epsilons,
    inputs,
    targets,
    coins,
    n_steps,
    lo,
    hi,
    want_grads,
    losses,
):
    """Train the models in columns lo:hi of the (P, N) arrays for `n_steps` steps; returns steps taken.

    tag: the cell (`cell_tag`). theta: parameters, updated in place; prev: the parameters before the latest
    update (the last good weights when a loss turns non-finite); state1/state2: the optimizer's per-parameter
    state (RMSprop square_avg / unused; Adam exp_avg / exp_avg_sq); grads: the last step's gradients when
    want_grads. dims = (V, E, H, T); hyper = (lr, rho or beta1, eps, beta2); step0: optimizer steps taken
    before. policy: what training feeds (POLICY_*); epsilons (n_steps,): scheduled sampling's chance of the
    true symbol per step; coins (n_steps, T, N): its draws. inputs/targets (T,) symbols. losses (n_steps, N):
    each model's mean cross-entropy at each step (before that step's update). Stops before the update of
    the first step at which a model's loss is not finite, and returns its index.
    """
    blocks, aux_blocks = _sizes(tag)
    v, e, h, steps = dims[0], dims[1], dims[2], dims[3]
    g = blocks * h
    a = aux_blocks * h
    lanes = hi - lo
    dt = theta.dtype.type
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h, g)
    th = _take(theta, lo, hi)
    pv = _take(prev, lo, hi)
    s1 = _take(state1, lo, hi)
    s2 = _take(state2, lo, hi)
    gr = np.zeros((p, lanes), theta.dtype)
    emb = np.empty((v + 1, e, lanes), theta.dtype)
    tab = np.empty((v + 1, g, lanes), theta.dtype)
    d_tab = np.empty((v + 1, g, lanes), theta.dtype)
    act = np.empty((steps, g, lanes), theta.dtype)
    aux = np.empty((steps, a, lanes), theta.dtype)
    hs = np.empty((steps, h, lanes), theta.dtype)
    probs = np.empty((steps, v, lanes), theta.dtype)
    zeros_h = np.zeros((h, lanes), theta.dtype)
    zeros_aux = np.zeros((a, lanes), theta.dtype)
    sym = np.zeros((steps, lanes), np.int64)
    pred = np.zeros(lanes, np.int64)
    y = np.empty((v, lanes), theta.dtype)
    d_y = np.empty((v, lanes), theta.dtype)
    d_e = np.empty(lanes, theta.dtype)
    top = np.empty(lanes, theta.dtype)
    total = np.empty(lanes, theta.dtype)
    loss = np.empty(lanes, theta.dtype)
    dh = np.empty((h, lanes), theta.dtype)
    dh_next = np.empty((h, lanes), theta.dtype)
    carry = np.empty((h, lanes), theta.dtype)
    dz = np.empty((g, lanes), theta.dtype)
    dr = np.empty((g, lanes), theta.dtype)
    lr, rho, eps, beta2 = hyper[0], hyper[1], hyper[2], hyper[3]
    inv_t = dt(1.0 / steps)
    one = dt(1.0)
    zero = dt(0.0)
    taken = n_steps
    for k in range(n_steps):
        # ---- forward
        _table(th, v, e, h, g, emb, tab)
        for m in range(lanes):
            loss[m] = zero
        for t in range(steps):
            shared = -1
            if t == 0 or policy == POLICY_TEACHER:
                shared = inputs[t]
            elif policy == POLICY_ZEROS:
                shared = v
            elif policy == POLICY_FREE:
                for m in range(lanes):
                    sym[t, m] = pred[m]
            else:
                for m in range(lanes):
                    sym[t, m] = inputs[t] if coins[k, t, lo + m] < epsilons[k] else pred[m]
            if shared >= 0:
                for m in range(lanes):
                    sym[t, m] = shared
            hp = zeros_h if t == 0 else hs[t - 1]
            ap = zeros_aux if t == 0 else aux[t - 1]
            _step(tag, th, v, e, h, gate, tab, sym[t], shared, hp, ap, act[t], aux[t], hs[t])
            _logits(th, v, e, h, g, hs[t], y)
            _argmax(y, pred, top)
            target = targets[t]
            # softmax and cross-entropy; symbols outer, lanes inner (top: the largest logit, from _argmax)
            for m in range(lanes):
                total[m] = zero
            for s in range(v):
                for m in range(lanes):
                    ex = dt(math.exp(y[s, m] - top[m]))
                    probs[t, s, m] = ex
                    total[m] += ex
            for s in range(v):
                for m in range(lanes):
                    probs[t, s, m] /= total[m]
            for m in range(lanes):
                loss[m] += top[m] + dt(math.log(total[m])) - y[target, m]
        finite = True
        for m in range(lanes):
            loss[m] *= inv_t
            losses[k, lo + m] = loss[m]
            if not math.isfinite(loss[m]):
                finite = False
        if not finite:
            taken = k
            break
        # ---- backward through time
        gr[:, :] = zero
        d_tab[:, :, :] = zero
        dh_next[:, :] = zero
        carry[:, :] = zero
        for t in range(steps - 1, -1, -1):
            target = targets[t]
            for s in range(v):
                for m in range(lanes):
                    dy = (probs[t, s, m] - (one if s == target else zero)) * inv_t
                    d_y[s, m] = dy
                    gr[o_bo + s, m] += dy
            for q in range(h):
                for s in range(v):
                    for m in range(lanes):
                        gr[o_wo + q * v + s, m] += hs[t, q, m] * d_y[s, m]
            for q in range(h):
                for m in range(lanes):
                    dh[q, m] = dh_next[q, m]
                for s in range(v):
                    for m in range(lanes):
                        dh[q, m] += th[o_wo + q * v + s, m] * d_y[s, m]
            hp = zeros_h if t == 0 else hs[t - 1]
            ap = zeros_aux if t == 0 else aux[t - 1]
            d_rec = _back(tag, th, h, gate, act[t], aux[t], ap, hp, dh, carry, dz, dr, dh_next)
            shared = sym[t, 0]
            for m in range(1, lanes):
                if sym[t, m] != shared:
                    shared = -1
            for j in range(g):
                if shared >= 0:
                    for m in range(lanes):
                        d_tab[shared, j, m] += dz[j, m]
                else:
                    for m in range(lanes):
                        d_tab[sym[t, m], j, m] += dz[j, m]
            # W_hh's gradient and the rest of d hprev, through hprev @ W_hh
            if lanes == 1:  # one model: loops over the gate columns (same sums in the same order)
                if t > 0:
                    for q in range(h):
                        hq = hs[t - 1, q, 0]
                        for j in range(g):
                            gr[o_whh + q * g + j, 0] += hq * d_rec[j, 0]
                for q in range(h):
                    acc = dh_next[q, 0]
                    for j in range(g):
                        acc += th[o_whh + q * g + j, 0] * d_rec[j, 0]
                    dh_next[q, 0] = acc
            else:
                if t > 0:
                    for q in range(h):
                        for j in range(g):
                            for m in range(lanes):
                                gr[o_whh + q * g + j, m] += hs[t - 1, q, m] * d_rec[j, m]
                for q in range(h):
                    for j in range(g):
                        for m in range(lanes):
                            dh_next[q, m] += th[o_whh + q * g + j, m] * d_rec[j, m]
        # the table's gradient -> cell bias, input weights, embedding
        for s in range(v + 1):
            for j in range(g):
                for m in range(lanes):
                    gr[o_b + j, m] += d_tab[s, j, m]
            for q in range(e):
                for j in range(g):
                    for m in range(lanes):
                        gr[o_wih + q * g + j, m] += emb[s, q, m] * d_tab[s, j, m]
                for m in range(lanes):
                    d_e[m] = zero
                for j in range(g):
                    for m in range(lanes):
                        d_e[m] += th[o_wih + q * g + j, m] * d_tab[s, j, m]
                for m in range(lanes):
                    if s < v:
                        gr[o_we + s * e + q, m] = d_e[m]
                    gr[o_be + q, m] += d_e[m]
        if want_grads:
            for r in range(p):
                for m in range(lanes):
                    grads[r, lo + m] = gr[r, m]
        # ---- optimizer (torch's formulas; scalars computed in float64 as torch does in Python)
        step = step0 + k + 1
        if optimizer == OPT_RMSPROP:
            keep = dt(rho)
            mix = dt(1.0 - rho)
            d_eps = dt(eps)
            minus_lr = dt(-lr)
            for r in range(p):
                for m in range(lanes):
                    gv = gr[r, m]
                    pv[r, m] = th[r, m]
                    sq = s1[r, m] * keep + mix * gv * gv
                    s1[r, m] = sq
                    th[r, m] += minus_lr * (gv / (math.sqrt(sq) + d_eps))
        elif optimizer == OPT_ADAM:
            beta1 = rho
            bias1 = 1.0 - beta1**step
            bias2_sqrt = math.sqrt(1.0 - beta2**step)
            minus_step = dt(-(lr / bias1))
            w1 = dt(1.0 - beta1)
            keep2 = dt(beta2)
            mix2 = dt(1.0 - beta2)
            d_eps = dt(eps)
            b2s = dt(bias2_sqrt)
            for r in range(p):
                for m in range(lanes):
                    gv = gr[r, m]
                    pv[r, m] = th[r, m]
                    avg = s1[r, m] + w1 * (gv - s1[r, m])
                    s1[r, m] = avg
                    sq = s2[r, m] * keep2 + mix2 * gv * gv
                    s2[r, m] = sq
                    th[r, m] += minus_step * (avg / (math.sqrt(sq) / b2s + d_eps))
        else:
            minus_lr = dt(-lr)
            for r in range(p):
                for m in range(lanes):
                    pv[r, m] = th[r, m]
                    th[r, m] += minus_lr * gr[r, m]
    _put(theta, lo, th)
    _put(prev, lo, pv)
    _put(state1, lo, s1)
    _put(state2, lo, s2)
    return taken


@njit(cache=True, nogil=True, error_model="numpy")
def predict_block(tag, theta, dims, gate, policy, state, inputs, n_out, lo, hi, predicted, hidden, logits):
    """Run a sampling procedure (argmax decoding) on the models in columns lo:hi; tag: the cell (`cell_tag`).

    A procedure is an input policy after the start symbol (POLICY_TEACHER, POLICY_ZEROS or POLICY_FREE: the
    prediction fed back) and a state handling: STATE_CARRIED (the state flows from step to step), STATE_PREFIX
    (each step re-runs the whole prefix fed so far from a zero state), STATE_FRESH (each step starts from a
    zero state and sees only its own input). n_out steps. predicted (N, n_out) symbols; hidden (N, n_out, H)
    and logits (N, n_out, V), float, written when their first dimension is N (pass (0, 0, 0) arrays to skip).
    """
    blocks, aux_blocks = _sizes(tag)
    v, e, h = dims[0], dims[1], dims[2]
    g = blocks * h
    a = aux_blocks * h
    lanes = hi - lo
    th = _take(theta, lo, hi)
    emb = np.empty((v + 1, e, lanes), theta.dtype)
    tab = np.empty((v + 1, g, lanes), theta.dtype)
    _table(th, v, e, h, g, emb, tab)
    act = np.empty((g, lanes), theta.dtype)
    hs = np.zeros((2, h, lanes), theta.dtype)
    aux = np.zeros((2, a, lanes), theta.dtype)
    y = np.empty((v, lanes), theta.dtype)
    top = np.empty(lanes, theta.dtype)
    pred = np.zeros(lanes, np.int64)
    fed = np.zeros((n_out + 1, lanes), np.int64)
    write_hidden = hidden.shape[0] > 0
    write_logits = logits.shape[0] > 0
    for m in range(lanes):
        fed[0, m] = inputs[0]
    for t in range(n_out):
        first = 0 if state == STATE_PREFIX else t
        for u in range(first, t + 1):
            src = u % 2
            dst = (u + 1) % 2
            if u == first and state != STATE_CARRIED:
                for q in range(h):
                    for m in range(lanes):
                        hs[src, q, m] = 0.0
                for q in range(a):
                    for m in range(lanes):
                        aux[src, q, m] = 0.0
            if u == 0:
                shared = inputs[0]
            elif policy == POLICY_TEACHER:
                shared = inputs[u]
            elif policy == POLICY_ZEROS:
                shared = v
            else:
                shared = -1
            _step(tag, th, v, e, h, gate, tab, fed[u], shared, hs[src], aux[src], act, aux[dst], hs[dst])
        last = (t + 1) % 2
        _logits(th, v, e, h, g, hs[last], y)
        _argmax(y, pred, top)
        for m in range(lanes):
            predicted[lo + m, t] = pred[m]
            fed[t + 1, m] = pred[m]
            if write_hidden:
                for q in range(h):
                    hidden[lo + m, t, q] = hs[last, q, m]
            if write_logits:
                for s in range(v):
                    logits[lo + m, t, s] = y[s, m]
    return 0
