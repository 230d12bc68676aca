"""Running the user's `generate` under the recorder and lining its evaluations up with the steps it produced.

Step i is the i-th token `generate` returns; it comes from one logits row. When the sampler made at least n
evaluations, each step is taken from the last row of one evaluation (one call per token); otherwise from every row
of every evaluation in order (one call over many positions, as the 2015 sampler did). Of the candidate rows, the
last n are used, unless another offset matches the returned tokens strictly better (a sampler that makes an extra
call).

For each step we know what the model saw when it produced that row (its *context*): the evaluation's inputs up to
that row, preceded by the previous evaluations' inputs as long as the recurrent state was carried.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqdiag.check.record import CARRIED, OTHER_STATE, STALE, UNKNOWN, Evaluation, Recorder, Recording
from seqdiag.check.user import UserFile, describe_exception
from seqdiag.errors import SeqdiagError


@dataclass(frozen=True)
class Row:
    """One logits row of one evaluation and what the model had seen when it produced it."""

    evaluation: int
    call: int  # the sampler's call that produced it (for an intervention)
    row: int  # the row within that call's logits
    context: list[int]  # items, oldest first
    state: str  # the evaluation's state kind
    fresh_how: str
    stale_source: int | None  # a stale state: the evaluation that returned it
    logits: torch.Tensor  # (V,)


@dataclass(frozen=True)
class SamplerRun:
    """One run of `generate`: the tokens it returned, the rows they came from, and what it did to the model."""

    returned: list[int]
    rows: list[Row]  # one per returned token
    recording: Recording
    recurrent: bool


def _returned_ids(value: Any, n: int, vocab_size: int, path: Path) -> list[int]:
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_floating_point():
            raise SeqdiagError(
                f"{path}: generate returned a {value.dtype} tensor of shape {tuple(value.shape)}; "
                f"expected {n} token ids (a list or a 1-D integer tensor)"
            )
        ids = [int(v) for v in value.tolist()]
    elif isinstance(value, list | tuple):
        try:
            ids = [int(v) for v in value]
            if any(isinstance(v, float) or (isinstance(v, torch.Tensor) and v.numel() != 1) for v in value):
                raise TypeError
        except (TypeError, ValueError):
            raise SeqdiagError(f"{path}: generate returned a list that is not token ids: {str(value)[:60]}") from None
    else:
        raise SeqdiagError(f"{path}: generate returned {type(value).__name__}; expected a list of {n} token ids")
    if len(ids) != n:
        raise SeqdiagError(f"{path}: generate(model, prompt, n={n}) returned {len(ids)} token ids; expected {n}")
    bad = [v for v in ids if not 0 <= v < vocab_size]
    if bad:
        raise SeqdiagError(f"{path}: generate returned token id {bad[0]}, outside vocab (0..{vocab_size - 1})")
    return ids


def _rows(evaluations: list[Evaluation]) -> list[list[Row]]:
    """Per evaluation, its rows with their contexts."""
    carried: list[int] = []
    after: list[list[int]] = []  # per evaluation, the context its returned state holds
    out: list[list[Row]] = []
    for ev in evaluations:
        source = ev.stale_source
        if ev.state == CARRIED:
            base = carried
        elif ev.state == STALE and source is not None and source < len(after):
            base = after[source]
        elif ev.state in (OTHER_STATE, STALE):
            base = [UNKNOWN]
        else:  # stateless, or a fresh state
            base = []
        n_rows = ev.logits.shape[0]
        first_pos = len(ev.items) - n_rows  # the rows cover the last positions
        rows = []
        for r in range(n_rows):
            upto = first_pos + r + 1
            context = base + ev.items[: max(upto, 0)]
            rows.append(Row(ev.index, ev.call, r, context, ev.state, ev.fresh_how, source, ev.logits[r]))
        out.append(rows)
        carried = base + ev.items
        after.append(carried)
    return out


def align(evaluations: list[Evaluation], returned: list[int], path: Path) -> list[Row]:
    """The row each returned token came from (see the module docstring)."""
    n = len(returned)
    per_eval = _rows(evaluations)
    if len(per_eval) >= n:
        candidates = [rows[-1] for rows in per_eval]
    else:
        candidates = [r for rows in per_eval for r in rows]
    if len(candidates) < n:
        raise SeqdiagError(
            f"{path}: generate returned {n} tokens but the model produced {len(candidates)} predictions; seqdiag "
            "records calls to `model` and its submodules, so generate must compute its tokens with them"
        )

    def matches(offset: int) -> int:
        return sum(int(candidates[offset + i].logits.argmax()) == returned[i] for i in range(n))

    last = len(candidates) - n
    best = max(range(last + 1), key=lambda o: (matches(o), o == last, o))
    if matches(best) == matches(last):
        best = last
    return candidates[best : best + n]


def run_generate(
    user: UserFile, prompt: list[int], n: int, intervene: tuple[int, int, int] | None = None, seed: int = 0
) -> SamplerRun:
    """Call the user's generate(model, prompt, n) once, recorded (and with an intervention, if given).

    The global random generators are seeded first, so a run and its intervention draw the same numbers.
    """
    torch.manual_seed(seed)
    random.seed(seed)
    generate: Callable[..., Any] = user.generate
    with Recorder(user.model, len(user.vocab), intervene) as recorder:
        try:
            value = generate(user.model, list(prompt), n)
        except SeqdiagError:
            raise
        except Exception as exc:
            raise SeqdiagError(
                f"{user.path}: generate(model, prompt, n={n}) raised {describe_exception(exc, user.path)}"
            ) from exc
    returned = _returned_ids(value, n, len(user.vocab), user.path)
    rows = align(recorder.recording.evaluations, returned, user.path)
    recurrent = any(ev.states for ev in recorder.recording.evaluations)
    return SamplerRun(returned, rows, recorder.recording, recurrent)
