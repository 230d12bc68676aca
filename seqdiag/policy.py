"""Input policies: what each step is fed. Training uses one, sampling uses one; the 2015 failure is a mismatch.

A policy answers one question per step t: given the true previous symbol and the model's own previous
prediction, which vector goes in? At t = 0 every policy feeds the start symbol.

- teacher:   the true previous symbol (teacher forcing).
- free:      the model's own previous prediction, one-hot (free-running).
- zeros:     a zero vector (the 2015 sampler: one `predict` call on S followed by zeros).
- scheduled: per step and rollout, the true symbol with probability epsilon, else the prediction.

`unroll` is the one loop that feeds a policy to the model, for training (with gradients) and for
sampling (under no_grad) alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqdiag.model import SequenceModel, State


@dataclass(frozen=True)
class InputPolicy:
    """What a step is fed. `epsilon` is the chance of the true symbol (only `scheduled` uses it)."""

    name: str
    epsilon: float = 1.0
    given: int = 0
    """Steps 1 .. given are fed the true symbol whatever the policy (a prompt of that many symbols)."""

    @property
    def open_loop(self) -> bool:
        """True when the inputs do not depend on the model's predictions, so a whole pass can run at once."""
        return self.name in ("teacher", "zeros")

    def feed_all(self, true_inputs: torch.Tensor) -> torch.Tensor:
        """Open-loop policies: (N, B, T, V) true inputs -> (N, B, T, V) fed inputs."""
        if self.name == "teacher":
            return true_inputs
        if self.name == "zeros":
            fed = torch.zeros_like(true_inputs)
            fed[:, :, : self.given + 1] = true_inputs[:, :, : self.given + 1]
            return fed
        raise ValueError(f"policy {self.name!r} depends on predictions; feed it step by step")

    def feed(
        self,
        t: int,
        true_input: torch.Tensor,
        predicted: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The input for step t (N, B, V), from the true one and the one-hot previous prediction."""
        if t <= self.given or self.name == "teacher":
            return true_input
        if self.name == "zeros":
            return torch.zeros_like(true_input)
        assert predicted is not None
        if self.name == "free":
            return predicted
        if self.name == "scheduled":
            coin = torch.rand(true_input.shape[:-1], generator=generator, device="cpu").to(true_input.device)
            use_true = (coin < self.epsilon).unsqueeze(-1)
            return torch.where(use_true, true_input, predicted)
        raise ValueError(f"unknown input policy {self.name!r}")


def scheduled_epsilon(schedule: str, k: float, floor: float, step: int) -> float:
    """Chance of feeding the true symbol at training step `step` (Bengio et al. 2015), never below `floor`."""
    if schedule == "linear":
        value = 1.0 - step / k
    elif schedule == "exponential":
        value = math.exp(-step / k)
    elif schedule == "inverse_sigmoid":
        value = k / (k + math.exp(min(step / k, 700.0)))
    else:
        raise ValueError(f"unknown schedule {schedule!r}")
    return max(floor, min(1.0, value))


@dataclass(frozen=True)
class Decoding:
    """How a prediction is read from the logits: argmax (temperature 0) or a sample."""

    temperature: float = 0.0
    top_k: int = 0

    def choose(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(..., V) logits -> (...,) long symbol indices."""
        if self.temperature == 0:
            return logits.argmax(dim=-1)
        scaled = logits / self.temperature
        if not bool(torch.isfinite(scaled).all()):
            # Huge logits (or a tiny temperature) overflow float32 when divided: do it in float64, from the
            # maximum down, so the likeliest symbol keeps weight 1 and nothing becomes inf - inf.
            scaled = _safe_scaled(logits, self.temperature)
        if 0 < self.top_k < scaled.shape[-1]:
            kth = scaled.topk(self.top_k, dim=-1).values[..., -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1).reshape(-1, scaled.shape[-1])
        picks = torch.multinomial(probs.cpu(), 1, generator=generator).to(logits.device)
        return picks.reshape(logits.shape[:-1])


def _safe_scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """(logits - max) / temperature in float64, every row with a finite maximum of 0.

    An infinite logit wins outright (the +inf ones share the draw); NaN never wins; a row with no number at all
    draws uniformly. softmax of the result is well defined for every row.
    """
    x = logits.double()
    x = torch.where(torch.isnan(x), torch.full_like(x, float("-inf")), x)
    top = x.amax(dim=-1, keepdim=True)
    infinite_top = torch.isposinf(top)
    x = torch.where(infinite_top, torch.where(torch.isposinf(x), 0.0, float("-inf")), x)
    top = torch.where(infinite_top, torch.zeros_like(top), top)
    empty = torch.isneginf(top)  # every entry NaN or -inf
    x = torch.where(empty, torch.zeros_like(x), x)
    top = torch.where(empty, torch.zeros_like(top), top)
    return (x - top) / temperature


@dataclass
class Rollout:
    """What one pass fed and produced. N models, B rollouts each, T steps."""

    inputs: torch.Tensor  # (N, B, T, V) the vectors actually fed
    logits: torch.Tensor  # (N, B, T, V)
    hidden: torch.Tensor  # (N, B, T, H)
    predicted: torch.Tensor  # (N, B, T) long: the symbol chosen at each step


def unroll(
    model: SequenceModel,
    true_inputs: torch.Tensor,
    policy: InputPolicy,
    decoding: Decoding = Decoding(),
    *,
    state_handling: str = "carried",
    generator: torch.Generator | None = None,
) -> Rollout:
    """Feed `policy` to `model` over the steps of `true_inputs` (N, B, T, V).

    `state_handling` (see `seqdiag.procedures.Procedure.state`): "carried" passes the state from step to
    step; "prefix" re-runs the whole prefix fed so far from a zero state at every step (the stateless
    sampler 2015 Keras users had to write; it must agree with the carried loop); "fresh" starts every step from
    a zero state, so each step sees its own input alone.
    Gradients flow through the logits when called with grad enabled; fed predictions are discrete.
    """
    if state_handling not in ("carried", "prefix", "fresh"):
        raise ValueError(f"unknown state handling {state_handling!r}")
    if policy.open_loop and state_handling == "carried":
        fed = policy.feed_all(true_inputs)
        logits, hidden, _ = model(fed)
        return Rollout(fed, logits, hidden, decoding.choose(logits, generator))

    if state_handling == "prefix" and policy.name == "free" and decoding.temperature == 0:
        return _refeed_by_verified_guess(model, true_inputs, policy)
    n, b, steps, _ = true_inputs.shape
    state: State = model.initial_state(b)
    fed_steps: list[torch.Tensor] = []
    logit_steps: list[torch.Tensor] = []
    hidden_steps: list[torch.Tensor] = []
    picks: list[torch.Tensor] = []
    predicted_vector: torch.Tensor | None = None
    for t in range(steps):
        x = policy.feed(t, true_inputs[:, :, t], predicted_vector, generator)  # (N, B, V)
        fed_steps.append(x)
        if state_handling == "carried":
            logits, state = model.step(x, state)
            hidden = state[0]
        elif state_handling == "fresh":
            logits, fresh_state = model.step(x, model.initial_state(b))
            hidden = fresh_state[0]
        else:
            prefix_logits, prefix_hidden, _ = model(torch.stack(fed_steps, dim=2))
            logits, hidden = prefix_logits[:, :, -1], prefix_hidden[:, :, -1]
        pick = decoding.choose(logits.detach(), generator)
        predicted_vector = torch.nn.functional.one_hot(pick, model.vocab_size).to(x.dtype)
        logit_steps.append(logits)
        hidden_steps.append(hidden)
        picks.append(pick)
    return Rollout(
        torch.stack(fed_steps, dim=2),
        torch.stack(logit_steps, dim=2),
        torch.stack(hidden_steps, dim=2),
        torch.stack(picks, dim=2),
    )


def _refeed_by_verified_guess(model: SequenceModel, true_inputs: torch.Tensor, policy: InputPolicy) -> Rollout:
    """The stateless argmax sampler (each step re-runs the whole prefix from a fresh state) in linear time.

    The model is causal: position t of one fresh-state pass over a sequence depends only on its inputs up to t,
    so re-running every prefix is the same as one pass over the whole fed sequence, once that sequence is known.
    It is guessed by carrying the state on from the confirmed prefix, then checked by one fresh-state pass: up to
    the first step whose argmax differs from the guess, the pass's outputs are the sampler's; the guess is
    corrected there and checked again. Each round is one pass; there are as many rounds as corrections plus one
    (usually one). `tests/test_policy.py` checks it against the quadratic loop.
    """
    n, b, steps, _ = true_inputs.shape
    confirmed = policy.feed(0, true_inputs[:, :, 0], None).unsqueeze(2)  # (N, B, k, V), k = steps confirmed
    while True:
        k = confirmed.shape[2]
        logits, _, state = model(confirmed)
        guess = [confirmed]
        pick = logits[:, :, -1].argmax(-1)
        for t in range(k, steps):
            x = policy.feed(
                t, true_inputs[:, :, t], torch.nn.functional.one_hot(pick, model.vocab_size).to(confirmed.dtype)
            )
            guess.append(x.unsqueeze(2))
            step_logits, state = model.step(x, state)
            pick = step_logits.argmax(-1)
        fed = torch.cat(guess, dim=2)  # (N, B, T, V)
        logits, hidden, _ = model(fed)
        picks = logits.argmax(-1)  # (N, B, T)
        # The pick at t is fed at t + 1: the guess holds where every fed input matches the pick before it.
        fed_symbols = fed[:, :, 1:].argmax(-1)
        mismatch = picks[:, :, :-1] != fed_symbols  # (N, B, T-1): the input at t + 1 is not the pick at t
        mismatch[:, :, : policy.given] = False  # a prompt's inputs are given, not picks
        wrong = mismatch.flatten(0, 1).any(0).nonzero()
        if wrong.numel() == 0:
            return Rollout(fed, logits, hidden, picks)
        first = int(wrong[0])
        correct = policy.feed(
            first + 1,
            true_inputs[:, :, first + 1],
            torch.nn.functional.one_hot(picks[:, :, first], model.vocab_size).to(fed.dtype),
        )
        confirmed = torch.cat([fed[:, :, : first + 1], correct.unsqueeze(2)], dim=2)
