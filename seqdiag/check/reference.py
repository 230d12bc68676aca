"""The references seqdiag runs itself on the user's model, through `forward(model, tokens)` (or `model(tokens[None])`).

- teacher-forced: the true sequence read in one call; row t predicts token t + 1.
- free-running: from the prompt, each argmax appended to the prefix and the whole prefix re-read. Correct for any
  causal model and needs no state, so it is the reference a sampler is held to.
- windowed: each target predicted from only the last `w` true tokens: what a sampler that re-feeds a window (or a
  single token with a fresh state) lets the model see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqdiag.check.user import UserFile, describe_exception
from seqdiag.errors import SeqdiagError

Forward = Callable[[torch.Tensor], torch.Tensor]  # (T,) ids -> (T, V) logits


def first_logits(output: Any, vocab_size: int) -> torch.Tensor | None:
    """The first floating tensor in a (possibly nested) output whose last dimension is the vocabulary."""
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() and output.dim() >= 1 and output.shape[-1] == vocab_size else None
    if isinstance(output, list | tuple):
        for item in output:
            found = first_logits(item, vocab_size)
            if found is not None:
                return found
    if isinstance(output, dict):
        for item in output.values():
            found = first_logits(item, vocab_size)
            if found is not None:
                return found
    return None


def make_forward(user: UserFile) -> Forward:
    """The user's `forward`, or `model(tokens[None])`'s first (1, T, V) tensor, checked to give (T, V) logits."""
    vocab_size = len(user.vocab)
    path: Path = user.path

    parameter = next(iter(user.model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    def call(tokens: torch.Tensor) -> torch.Tensor:
        name = "forward(model, tokens)" if user.forward is not None else "model(tokens[None])"
        tokens = tokens.to(device)  # where the model's weights are
        try:
            out = user.forward(user.model, tokens) if user.forward is not None else user.model(tokens[None])
        except Exception as exc:
            hint = "" if user.forward is not None else "; define forward(model, tokens) returning (T, V) logits"
            raise SeqdiagError(f"{path}: {name} raised {describe_exception(exc, path)}{hint}") from exc
        if user.forward is None:
            found = first_logits(out, vocab_size)
            if found is None or found.dim() != 3 or found.shape[0] != 1 or found.shape[1] != len(tokens):
                raise SeqdiagError(
                    f"{path}: model(tokens[None]) returned no (1, {len(tokens)}, {vocab_size}) tensor; "
                    "define forward(model, tokens) returning (T, V) logits"
                )
            return found[0].detach().float().cpu()
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(tokens), vocab_size):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise SeqdiagError(
                f"{path}: forward(model, tokens) returned {shape} for {len(tokens)} tokens; "
                f"expected ({len(tokens)}, {vocab_size}) logits"
            )
        return out.detach().float().cpu()

    return call


@dataclass(frozen=True)
class Reference:
    """One procedure seqdiag ran itself: per generated step, the input fed, the prediction and the logits row."""

    name: str
    inputs: list[int]  # the last token of the context at each step
    predicted: list[int]
    logits: torch.Tensor  # (n, V)


@torch.no_grad()
def teacher_forced(forward: Forward, sequence: list[int], prompt: int) -> Reference:
    """The true sequence read in one call; step i predicts sequence[prompt + i] from sequence[: prompt + i]."""
    logits = forward(torch.tensor(sequence[:-1]))[prompt - 1 :]  # (n, V)
    return Reference("teacher", sequence[prompt - 1 : -1], logits.argmax(-1).tolist(), logits)


@torch.no_grad()
def free_running(forward: Forward, sequence: list[int], prompt: int, steps: int | None = None) -> Reference:
    """From the prompt, re-read the whole prefix each step and append its argmax (what is fed back: the prediction).

    `steps` defaults to the targets after the prompt; one more is useful to spot an output shifted by one.
    """
    n = len(sequence) - prompt if steps is None else steps
    prefix = list(sequence[:prompt])
    rows, inputs = [], []
    for _ in range(n):
        row = forward(torch.tensor(prefix))[-1]  # (V,)
        inputs.append(prefix[-1])
        rows.append(row)
        prefix.append(int(row.argmax()))
    return Reference("free", inputs, prefix[prompt:], torch.stack(rows))


@torch.no_grad()
def windowed(forward: Forward, sequence: list[int], prompt: int, window: int) -> Reference:
    """Each target predicted from the last `window` true tokens only (a fresh context each step)."""
    rows = []
    for t in range(prompt, len(sequence)):
        rows.append(forward(torch.tensor(sequence[max(0, t - window) : t]))[-1])
    logits = torch.stack(rows)
    return Reference(f"window {window}", sequence[prompt - 1 : -1], logits.argmax(-1).tolist(), logits)


def eval_mode(model: torch.nn.Module) -> Callable[[], None]:
    """Put the model in eval mode; the returned function restores what it was."""
    was = model.training
    model.eval()

    def restore() -> None:
        model.train(was)

    return restore
