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
out_weight (H, V), out_bias (V), with G = 4 H (LSTM columns i, f, o, candidate).

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
def offsets(v, e, h):
    """Start of each parameter in the flat per-model vector, and its length P."""
    g = 4 * h
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
def _table(th, v, e, h, emb, tab):
    """Input pre-activations per symbol: emb (V + 1, E, L) embedded rows, tab (V + 1, G, L)."""
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h)
    g = 4 * h
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


@njit(cache=True, error_model="numpy")
def _cell(th, v, e, h, gate, tab, sym, shared, hprev, cprev, act, c_out, tc_out, h_out):
    """One LSTM step for a block: z = tab[symbol] + hprev @ W_hh; act (G, L) gets i, f, o, candidate.

    `shared` >= 0: every lane reads that table row; else lane m reads row sym[m].
    """
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h)
    g = 4 * h
    lanes = th.shape[1]
    slope = act.dtype.type(HARD_SLOPE)
    offset = act.dtype.type(HARD_OFFSET)
    one = act.dtype.type(1.0)
    zero = act.dtype.type(0.0)
    if lanes == 1:
        # One model: loops over the gate columns instead of one-lane loops (same sums in the same order).
        row = shared if shared >= 0 else sym[0]
        for j in range(g):
            act[j, 0] = tab[row, j, 0]
        for k in range(h):
            hk = hprev[k, 0]
            for j in range(g):
                act[j, 0] += hk * th[o_whh + k * g + j, 0]
    else:
        for j in range(g):
            if shared >= 0:
                for m in range(lanes):
                    act[j, m] = tab[shared, j, m]
            else:
                for m in range(lanes):
                    act[j, m] = tab[sym[m], j, m]
            for k in range(h):
                for m in range(lanes):
                    act[j, m] += hprev[k, m] * th[o_whh + k * g + j, m]
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
            c = act[h + k, m] * cprev[k, m] + act[k, m] * act[3 * h + k, m]
            c_out[k, m] = c
            tc = _tanh(c)
            tc_out[k, m] = tc
            h_out[k, m] = act[2 * h + k, m] * tc


@njit(cache=True, error_model="numpy")
def _logits(th, v, e, h, hid, y):
    """y (V, L) = hid (H, L) @ W_out + b_out."""
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h)
    lanes = th.shape[1]
    for s in range(v):
        for m in range(lanes):
            y[s, m] = th[o_bo + s, m]
        for k in range(h):
            for m in range(lanes):
                y[s, m] += hid[k, m] * th[o_wo + k * v + s, m]


@njit(cache=True, error_model="numpy")
def _argmax(y, out):
    """out[m] = the first index of the largest y[:, m] (torch's argmax on ties)."""
    v, lanes = y.shape
    for m in range(lanes):
        best = 0
        for s in range(1, v):
            if y[s, m] > y[best, m]:
                best = s
        out[m] = best


@njit(cache=True, nogil=True, error_model="numpy")
def train_block(
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

    theta: parameters, updated in place; prev: the parameters before the latest update (the last good
    weights when a loss turns non-finite); state1/state2: the optimizer's per-parameter state (RMSprop
    square_avg / unused; Adam exp_avg / exp_avg_sq); grads: the last step's gradients when want_grads.
    dims = (V, E, H, T); hyper = (lr, rho or beta1, eps, beta2); step0: optimizer steps taken before.
    policy: what training feeds (POLICY_*); epsilons (n_steps,): scheduled sampling's chance of the true
    symbol per step; coins (n_steps, T, N): its draws. inputs/targets (T,) symbols. losses (n_steps, N):
    each model's mean cross-entropy at each step (before that step's update). Stops before the update of
    the first step at which a model's loss is not finite, and returns its index.
    """
    v, e, h, steps = dims[0], dims[1], dims[2], dims[3]
    g = 4 * h
    lanes = hi - lo
    dt = theta.dtype.type
    o_we, o_be, o_wih, o_whh, o_b, o_wo, o_bo, p = offsets(v, e, h)
    th = _take(theta, lo, hi)
    pv = _take(prev, lo, hi)
    s1 = _take(state1, lo, hi)
    s2 = _take(state2, lo, hi)
    gr = np.zeros((p, lanes), theta.dtype)
    emb = np.empty((v + 1, e, lanes), theta.dtype)
    tab = np.empty((v + 1, g, lanes), theta.dtype)
    d_tab = np.empty((v + 1, g, lanes), theta.dtype)
    act = np.empty((steps, g, lanes), theta.dtype)
    cs = np.empty((steps, h, lanes), theta.dtype)
    tcs = np.empty((steps, h, lanes), theta.dtype)
    hs = np.empty((steps, h, lanes), theta.dtype)
    probs = np.empty((steps, v, lanes), theta.dtype)
    zeros_h = np.zeros((h, lanes), theta.dtype)
    sym = np.zeros((steps, lanes), np.int64)
    pred = np.zeros(lanes, np.int64)
    y = np.empty((v, lanes), theta.dtype)
    loss = np.empty(lanes, theta.dtype)
    dh = np.empty((h, lanes), theta.dtype)
    dh_next = np.empty((h, lanes), theta.dtype)
    dc_next = np.empty((h, lanes), theta.dtype)
    dz = np.empty((g, lanes), theta.dtype)
    lr, rho, eps, beta2 = hyper[0], hyper[1], hyper[2], hyper[3]
    inv_t = dt(1.0 / steps)
    one = dt(1.0)
    zero = dt(0.0)
    slope = dt(HARD_SLOPE)
    taken = n_steps
    for k in range(n_steps):
        # ---- forward
        _table(th, v, e, h, emb, tab)
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
            cp = zeros_h if t == 0 else cs[t - 1]
            _cell(th, v, e, h, gate, tab, sym[t], shared, hp, cp, act[t], cs[t], tcs[t], hs[t])
            _logits(th, v, e, h, hs[t], y)
            _argmax(y, pred)
            target = targets[t]
            for m in range(lanes):
                top = y[0, m]
                for s in range(1, v):
                    top = max(top, y[s, m])
                total = zero
                for s in range(v):
                    ex = dt(math.exp(y[s, m] - top))
                    probs[t, s, m] = ex
                    total += ex
                for s in range(v):
                    probs[t, s, m] /= total
                loss[m] += top + dt(math.log(total)) - y[target, m]
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
        dc_next[:, :] = zero
        for t in range(steps - 1, -1, -1):
            target = targets[t]
            for s in range(v):
                for m in range(lanes):
                    dy = (probs[t, s, m] - (one if s == target else zero)) * inv_t
                    gr[o_bo + s, m] += dy
                    for q in range(h):
                        gr[o_wo + q * v + s, m] += hs[t, q, m] * dy
            for q in range(h):
                for m in range(lanes):
                    dh[q, m] = dh_next[q, m]
                for s in range(v):
                    for m in range(lanes):
                        dy = (probs[t, s, m] - (one if s == target else zero)) * inv_t
                        dh[q, m] += th[o_wo + q * v + s, m] * dy
            for q in range(h):
                for m in range(lanes):
                    i_g = act[t, q, m]
                    f_g = act[t, h + q, m]
                    o_g = act[t, 2 * h + q, m]
                    c_g = act[t, 3 * h + q, m]
                    tc = tcs[t, q, m]
                    c_prev = cs[t - 1, q, m] if t > 0 else zero
                    d_c = dc_next[q, m] + dh[q, m] * o_g * (one - tc * tc)
                    if gate == GATE_HARD:
                        gi = slope if zero < i_g < one else zero
                        gf = slope if zero < f_g < one else zero
                        go = slope if zero < o_g < one else zero
                    else:
                        gi = i_g * (one - i_g)
                        gf = f_g * (one - f_g)
                        go = o_g * (one - o_g)
                    dz[q, m] = d_c * c_g * gi
                    dz[h + q, m] = d_c * c_prev * gf
                    dz[2 * h + q, m] = dh[q, m] * tc * go
                    dz[3 * h + q, m] = d_c * i_g * (one - c_g * c_g)
                    dc_next[q, m] = d_c * f_g
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
            if lanes == 1:  # one model: loops over the gate columns (same sums in the same order)
                if t > 0:
                    for q in range(h):
                        hq = hs[t - 1, q, 0]
                        for j in range(g):
                            gr[o_whh + q * g + j, 0] += hq * dz[j, 0]
                for q in range(h):
                    acc = zero
                    for j in range(g):
                        acc += th[o_whh + q * g + j, 0] * dz[j, 0]
                    dh_next[q, 0] = acc
            else:
                if t > 0:
                    for q in range(h):
                        for j in range(g):
                            for m in range(lanes):
                                gr[o_whh + q * g + j, m] += hs[t - 1, q, m] * dz[j, m]
                for q in range(h):
                    for m in range(lanes):
                        dh_next[q, m] = zero
                    for j in range(g):
                        for m in range(lanes):
                            dh_next[q, m] += th[o_whh + q * g + j, m] * dz[j, m]
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
                    dy = zero
                    for j in range(g):
                        dy += th[o_wih + q * g + j, m] * d_tab[s, j, m]
                    if s < v:
                        gr[o_we + s * e + q, m] = dy
                    gr[o_be + q, m] += dy
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
def predict_block(theta, dims, gate, policy, state, inputs, n_out, lo, hi, predicted, hidden, logits):
    """Run a sampling procedure (argmax decoding) on the models in columns lo:hi.

    A procedure is an input policy after the start symbol (POLICY_TEACHER, POLICY_ZEROS or POLICY_FREE: the
    prediction fed back) and a state handling: STATE_CARRIED (the state flows from step to step), STATE_PREFIX
    (each step re-runs the whole prefix fed so far from a zero state), STATE_FRESH (each step starts from a
    zero state and sees only its own input). n_out steps. predicted (N, n_out) symbols; hidden (N, n_out, H)
    and logits (N, n_out, V), float, written when their first dimension is N (pass (0, 0, 0) arrays to skip).
    """
    v, e, h = dims[0], dims[1], dims[2]
    g = 4 * h
    lanes = hi - lo
    th = _take(theta, lo, hi)
    emb = np.empty((v + 1, e, lanes), theta.dtype)
    tab = np.empty((v + 1, g, lanes), theta.dtype)
    _table(th, v, e, h, emb, tab)
    act = np.empty((g, lanes), theta.dtype)
    hs = np.zeros((2, h, lanes), theta.dtype)
    cs = np.zeros((2, h, lanes), theta.dtype)
    tc = np.empty((h, lanes), theta.dtype)
    y = np.empty((v, lanes), theta.dtype)
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
                        cs[src, q, m] = 0.0
            if u == 0:
                shared = inputs[0]
            elif policy == POLICY_TEACHER:
                shared = inputs[u]
            elif policy == POLICY_ZEROS:
                shared = v
            else:
                shared = -1
            _cell(th, v, e, h, gate, tab, fed[u], shared, hs[src], cs[src], act, cs[dst], tc, hs[dst])
        last = (t + 1) % 2
        _logits(th, v, e, h, hs[last], y)
        _argmax(y, pred)
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
