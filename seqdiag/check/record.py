"""Recording the user's sampler: forward hooks on the model and every submodule note each call it makes.

A *call* is one module invocation the sampler made itself (not one nested inside another recorded call). Calls are
grouped into *evaluations*: the calls up to and including one whose output holds logits (a tensor whose last
dimension is the vocabulary), so a sampler that calls `model.embed`, `model.rnn` and `model.head` by hand is one
evaluation per step, like one that calls `model(x, state)`. For each evaluation we keep what it was fed (token ids,
or vectors: one-hot, zero or other), what state each recurrent module (nn.RNN/LSTM/GRU and their cells) got (none,
zeros, the state it returned last time, or something else) and the logits it produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from seqdiag.check.reference import first_logits

# What an input position was, besides a token id (>= 0).
ZERO = -1  # an all-zero vector
OTHER = -2  # a vector that is neither one-hot nor zero
UNKNOWN = -3  # an input seqdiag could not read (a vector of another width), or a state it cannot account for

RECURRENT = (nn.RNNBase, nn.RNNCellBase)

# State kinds, per evaluation.
STATELESS = "stateless"  # no recurrent module ran
CARRIED = "carried"  # each recurrent module got the state it returned on its previous call
FRESH = "fresh"  # a recurrent module got no state (None) or zeros
STALE = "stale"  # the state a recurrent module returned at an earlier call, not at its previous one
OTHER_STATE = "other"  # a state that is neither fresh nor one it returned


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):
        return type(value)(_detach(v) for v in value) if not hasattr(value, "_fields") else value
    return value


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return []


def _same(a: Any, b: Any) -> bool:
    ta, tb = _tensors(a), _tensors(b)
    return (
        bool(ta)
        and len(ta) == len(tb)
        and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(ta, tb, strict=True))
    )


@dataclass
class StateIn:
    """The state one recurrent module got at its first call within an evaluation."""

    module: str
    kind: str  # none | zeros | carried | stale | other
    source: int | None = None  # stale: the evaluation that returned this state


@dataclass
class Evaluation:
    """One model evaluation the sampler made: inputs fed, the state it started from, the logits it produced."""

    index: int
    items: list[int]  # per input position: a token id, or ZERO / OTHER / UNKNOWN
    states: list[StateIn]
    logits: torch.Tensor  # (rows, V): one row per position the output covers (the last positions)
    call: int  # index of the call (among the sampler's own calls) whose output holds the logits

    @property
    def state(self) -> str:
        if not self.states:
            return STATELESS
        kinds = {s.kind for s in self.states}
        if "other" in kinds:
            return OTHER_STATE
        if "stale" in kinds:
            return STALE
        if kinds & {"none", "zeros"}:
            return FRESH
        return CARRIED

    @property
    def stale_source(self) -> int | None:
        """For a stale state: the (earliest) evaluation whose returned state was passed in again."""
        sources = [s.source for s in self.states if s.kind == "stale" and s.source is not None]
        return min(sources) if sources else None

    @property
    def fresh_how(self) -> str:
        """How a fresh state was given: 'no state' (None) or 'a zero state'."""
        kinds = {s.kind for s in self.states}
        return "no state" if "none" in kinds else "a zero state"


def read_items(value: Any, vocab_size: int) -> list[int] | None:
    """The input positions of a call's first tensor argument: ids, or vectors as one-hot ids / ZERO / OTHER.

    Only a batch of one is read: the tensor is flattened to positions.
    """
    tensors = _tensors(value)
    if not tensors:
        return None
    x = tensors[0]
    if not x.is_floating_point():
        return [int(v) for v in x.reshape(-1).tolist()]
    if x.dim() == 0 or x.shape[-1] != vocab_size:
        return None
    items = []
    for row in x.reshape(-1, vocab_size).float():
        if bool((row == 0).all()):
            items.append(ZERO)
        elif bool(((row == 0) | (row == 1)).all()) and float(row.sum()) == 1.0:
            items.append(int(row.argmax()))
        else:
            items.append(OTHER)
    return items


@dataclass
class _Call:
    module: str
    depth: int
    args: Any
    output: Any = None
    done: bool = False


@dataclass
class Recording:
    """Everything one run of `generate` did to the model."""

    calls: int = 0  # calls the sampler made itself
    evaluations: list[Evaluation] = field(default_factory=list)


class Recorder:
    """Context manager: hooks on every module of `model`; `intervene(call, row, token)` forces one prediction.

    An intervention makes `token` the top symbol of one logits row of one call (the call's output is changed by the
    hook), to see whether the sampler feeds back what the model predicted.
    """

    def __init__(self, model: nn.Module, vocab_size: int, intervene: tuple[int, int, int] | None = None) -> None:
        self.model = model
        self.vocab_size = vocab_size
        self.intervention = intervene
        self.recording = Recording()
        self._handles: list[Any] = []
        self._depth = 0
        self._stack: list[_Call] = []
        self._last_state: dict[str, Any] = {}
        self._returned: dict[str, list[tuple[int, Any]]] = {}  # per module: (evaluation, state it returned)
        self._pending: list[_Call] = []  # outer calls of the evaluation being built
        self._pending_states: dict[str, StateIn] = {}
        self._outer = 0

    def __enter__(self) -> Recorder:
        for name, module in self.model.named_modules():
            label = name or "model"
            self._handles.append(module.register_forward_pre_hook(self._pre(label, module), with_kwargs=True))
            self._handles.append(module.register_forward_hook(self._post(label, module), with_kwargs=True))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()

    def _pre(self, label: str, module: nn.Module) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            call = _Call(label, self._depth, _detach(args[0]) if args else _detach(next(iter(kwargs.values()), None)))
            self._depth += 1
            self._stack.append(call)
            if isinstance(module, RECURRENT) and label not in self._pending_states:
                hx = args[1] if len(args) > 1 else kwargs.get("hx")
                self._pending_states[label] = self._state_in(label, hx)

        return hook

    def _state_in(self, label: str, hx: Any) -> StateIn:
        if hx is None:
            return StateIn(label, "none")
        if _same(hx, self._last_state.get(label)):
            return StateIn(label, "carried")
        tensors = _tensors(hx)
        if tensors and all(bool((t == 0).all()) for t in tensors):
            return StateIn(label, "zeros")
        for evaluation, state in reversed(self._returned.get(label, [])):
            if _same(hx, state):
                return StateIn(label, "stale", evaluation)
        return StateIn(label, "other")

    def _post(self, label: str, module: nn.Module) -> Callable[..., Any]:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
            self._depth -= 1
            call = self._stack.pop()
            if isinstance(module, RECURRENT):
                state = output[1] if isinstance(module, nn.RNNBase) else output
                self._last_state[label] = _detach(state)
                evaluation = len(self.recording.evaluations)  # the one being built
                self._returned.setdefault(label, []).append((evaluation, self._last_state[label]))
            if call.depth != 0:
                return None
            index = self._outer
            self._outer += 1
            self.recording.calls = self._outer
            output = self._maybe_intervene(index, output)
            call.output = output
            self._pending.append(call)
            logits = first_logits(output, self.vocab_size)
            if logits is not None:
                self._close(index, logits)
            return output

        return hook

    def _maybe_intervene(self, index: int, output: Any) -> Any:
        if self.intervention is None or self.intervention[0] != index:
            return output
        _, row, token = self.intervention
        logits = first_logits(output, self.vocab_size)
        if logits is None:
            return output
        flat = logits.detach().reshape(-1, self.vocab_size).clone()
        flat[row, token] = flat[row].max() + 20.0
        return _replace(output, logits, flat.reshape(logits.shape))

    def _close(self, index: int, logits: torch.Tensor) -> None:
        items: list[int] | None = None
        for call in self._pending:
            items = read_items(call.args, self.vocab_size)
            if items is not None:
                break
        rows = logits.detach().float().cpu().reshape(-1, self.vocab_size)
        if items is None:
            items = [UNKNOWN] * rows.shape[0]
        evaluation = Evaluation(
            index=len(self.recording.evaluations),
            items=items,
            states=list(self._pending_states.values()),
            logits=rows,
            call=index,
        )
        self.recording.evaluations.append(evaluation)
        self._pending = []
        self._pending_states = {}


def _replace(value: Any, old: torch.Tensor, new: torch.Tensor) -> Any:
    """`value` with the tensor `old` (found by identity) swapped for `new`, tuples and lists rebuilt."""
    if value is old:
        return new
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_replace(v, old, new) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(_replace(v, old, new) for v in value)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    return value
