"""Error injection and recovery: force a wrong symbol into free-running and watch what the model does next.

Free-running feeds the model its own previous prediction. Here, at step k, the fed symbol is replaced by a
wrong pattern symbol w (as if the model had just made a mistake), and the predictions from step k on are
compared with two references, over the pattern's steps k .. n-1 (the end symbol is judged apart):

- continues: the pattern continued from the injected symbol (w taken as the last symbol, in any phase
  of the pattern where w occurs). A model that reads the next symbol off its input does this at once.
- resyncs:   the original targets (the position in the sequence). A model that ignores its input and
  keeps time in its state (a clock) does this at once.

"Back after r" means the prediction at step k + r and every later pattern step match the reference, for
at least one period of the pattern, so r = 0 is "the very next prediction is already on it"; None means
it is never back for good (a match over less than a period at the very end is chance, not recovery).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag import judgement
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding, InputPolicy, unroll
from seqdiag.sequence import ToySequence
from seqdiag.table import CellValue, Column, Row, TableSpec, assemble, steps_after, styled

DEFAULT_INJECT_AT = (3, 10, 20)


@dataclass(frozen=True, eq=False)
class InjectedPolicy(InputPolicy):
    """Free-running, except that at the `forced` steps the given (injected) input is fed.

    `forced` is (B, T) bool; the injected vectors are passed to `unroll` as the true inputs.
    """

    forced: torch.Tensor | None = None

    def feed(
        self,
        t: int,
        true_input: torch.Tensor,
        predicted: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        base = super().feed(t, true_input, predicted, generator)
        if self.forced is None:
            return base
        mask = self.forced[:, t].to(true_input.device)[None, :, None]  # (1, B, 1)
        return torch.where(mask, true_input, base)


@dataclass(frozen=True)
class Injection:
    """One forced mistake and what followed it."""

    step: int  # k: the step whose input was replaced
    fed: str  # the wrong symbol forced in
    replaced: str  # the symbol free-running would have been fed had it been right
    output: str  # predictions from step k to the end
    continues_after: int | None  # back on the pattern continued from `fed` after this many steps; None = never
    resyncs_after: int | None  # back on the original targets after this many steps; None = never
    end_symbol: bool  # whether the end symbol still comes out at the last step


@dataclass(frozen=True)
class Recovery:
    """Injections into one model's free-running; `baseline_*` is free-running with nothing injected."""

    baseline_output: str
    baseline_first_divergence: int | None
    injections: list[Injection]

    @property
    def continued(self) -> int:
        return sum(i.continues_after is not None for i in self.injections)

    @property
    def resynced(self) -> int:
        return sum(i.resyncs_after is not None for i in self.injections)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cells(self) -> list[CellValue]:
        """Free-running without injection, then per injection how soon it is back (continued, original targets)."""
        first = self.baseline_first_divergence
        cells: list[CellValue] = [styled("all right", "good") if first is None else styled(f"off at {first}", "bad")]
        for injection in self.injections:
            cont, back = steps_after(injection.continues_after), steps_after(injection.resyncs_after)
            cells.append(assemble("cont. ", cont, ", back ", back))
        return cells


@torch.no_grad()
def recover_every_sequence(
    model: SequenceModel, sequences: list[ToySequence], inject_at: tuple[int, ...] | list[int] = DEFAULT_INJECT_AT
) -> list[Recovery]:
    """`inject_and_recover` on each sequence, at the steps of `inject_at` that fall inside it (a step past a short
    sequence is left out there, not moved, so that a step means the same step in every sequence)."""
    return [inject_and_recover(model, s, [k for k in inject_at if 1 <= k <= s.steps - 2]) for s in sequences]


def every_sequence_json(recoveries: list[Recovery]) -> list[dict[str, Any]]:
    """Each sequence's recovery, with its index in the task."""
    return [{"sequence": i, **r.to_json()} for i, r in enumerate(recoveries)]


def recovery_totals_table(models: list[tuple[str, list[Recovery]]], steps: list[int]) -> TableSpec | None:
    """Several sequences: one row per trained model (its label, its recovery on each sequence), one column per
    injection step; a cell counts the sequences injected at that step that came back."""
    if not models or not steps:
        return None
    rows = []
    for label, recoveries in models:
        right = sum(r.baseline_first_divergence is None for r in recoveries)
        cells: list[CellValue] = [
            label,
            styled(f"{right}/{len(recoveries)} all right", "good" if right == len(recoveries) else "bad"),
        ]
        for k in steps:
            at = [i for r in recoveries for i in r.injections if i.step == k]
            if not at:
                cells.append(styled("—", "muted"))
                continue
            cont = sum(i.continues_after is not None for i in at)
            back = sum(i.resyncs_after is not None for i in at)
            cells.append(f"cont. {cont}/{len(at)}, back {back}/{len(at)}")
        rows.append(Row(tuple(cells)))
    return TableSpec(
        title=f"Error recovery: a wrong symbol forced into free-running, in each of {len(models[0][1])} sequences",
        caption="cell = sequences injected at that step that came back: cont. = on the sequence continued from the "
        "injected symbol (another place it occurs) · back = on the original targets · — = no sequence that long · "
        "no injection = sequences free-running gets all right",
        columns=(
            Column("model", keep=True),
            Column("no injection"),  # free text: wraps between words where the table is narrow
            *(Column(f"step {k}") for k in steps),
        ),
        rows=tuple(rows),
    )


def recovery_table(models: list[tuple[str, Recovery]]) -> TableSpec | None:
    """One row per trained model (its label, its recovery), one column per injection (the first model's words).
    None when nothing was injected."""
    if not models or not models[0][1].injections:
        return None
    return TableSpec(
        title="Error recovery: a wrong symbol forced into free-running",
        caption="cont. = back on the pattern continued from the injected symbol · back = back on the original "
        "targets · after r = r wrong predictions first (0 = at once) · never = not back for good by the pattern's end",
        columns=(
            Column("model", keep=True),
            Column("no injection"),  # free text: wraps between words where the table is narrow
            *(Column(f"step {i.step}: {i.fed!r} for {i.replaced!r}") for i in models[0][1].injections),
        ),
        rows=tuple(Row((label, *recovery.cells())) for label, recovery in models),
    )


def injection_steps(requested: tuple[int, ...] | list[int], length: int) -> list[int]:
    """Clip requested steps to 1 .. length-1 (a pattern target must follow) and drop duplicates."""
    if length < 2:
        return []
    return sorted({min(max(1, int(k)), length - 1) for k in requested})


def back_after(predicted: list[int], reference: list[int], min_run: int = 1) -> int | None:
    """The smallest r such that predicted[r:] == reference[r:] over at least `min_run` steps; else None.

    `min_run` (one period of the pattern, or what is left of the sequence) keeps a chance match of the
    last symbol or two from counting as "back".
    """
    r = len(predicted)
    while r > 0 and predicted[r - 1] == reference[r - 1]:
        r -= 1
    return None if len(predicted) - r < min(min_run, len(predicted)) or r == len(predicted) else r


def _wrong_symbol(true_index: int, pattern_indices: list[int]) -> int:
    others = sorted(set(pattern_indices) - {true_index})
    return others[0]


@torch.no_grad()
def inject_and_recover(
    model: SequenceModel,
    sequence: ToySequence,
    inject_at: tuple[int, ...] | list[int] = DEFAULT_INJECT_AT,
    model_index: int = 0,
) -> Recovery:
    """Free-running with one wrong symbol forced at each step of `inject_at` (one rollout each, batched)."""
    symbols = sequence.vocabulary.symbols
    n = sequence.steps - 1  # pattern symbols; steps 0 .. n-1 predict them, step n the end symbol
    pattern = [int(i) for i in sequence.targets[:n]]
    period_symbols = [sequence.vocabulary.index(s) for s in dict.fromkeys(_pattern_of(sequence))]
    steps = [k for k in injection_steps(inject_at, n) if k > sequence.prompt] if len(set(period_symbols)) > 1 else []
    b = len(steps) + 1  # rollout 0 is the baseline
    true = sequence.inputs.clone().repeat(b, 1)  # (B, T) indices
    forced = torch.zeros(b, sequence.steps, dtype=torch.bool)
    for row, k in enumerate(steps, start=1):
        true[row, k] = _wrong_symbol(int(sequence.inputs[k]), period_symbols)
        forced[row, k] = True
    device = model.embed_weight.device
    vectors = sequence.vocabulary.one_hot(true).to(device)[None].expand(model.n_models, -1, -1, -1)  # (N, B, T, V)
    was_training = model.training
    model.eval()
    try:
        rollout = unroll(model, vectors, InjectedPolicy("free", given=sequence.prompt, forced=forced), Decoding())
    finally:
        model.train(was_training)
    predicted = rollout.predicted[model_index].cpu().tolist()  # (B, T)
    end_index = sequence.start_index
    cycle = [sequence.vocabulary.index(s) for s in _pattern_of(sequence)]
    injections = []
    for row, k in enumerate(steps, start=1):
        w = int(true[row, k])
        got = predicted[row][k:n]
        continuations = [
            [cycle[(phase + 1 + j) % len(cycle)] for j in range(n - k)] for phase, s in enumerate(cycle) if s == w
        ]
        continues = [r for ref in continuations if (r := back_after(got, ref, len(cycle))) is not None]
        injections.append(
            Injection(
                step=k,
                fed=symbols[w],
                replaced=symbols[int(sequence.inputs[k])],
                output="".join(symbols[i] for i in predicted[row][k:]),
                continues_after=min(continues) if continues else None,
                resyncs_after=back_after(got, pattern[k:n], len(cycle)),
                end_symbol=predicted[row][n] == end_index,
            )
        )
    baseline = predicted[0]
    first = judgement.first_divergence(baseline, [int(i) for i in sequence.targets], sequence.prompt)
    return Recovery("".join(symbols[i] for i in baseline), first, injections)


def _pattern_of(sequence: ToySequence) -> str:
    """The repeating unit of the targets (the shortest period of the pattern part)."""
    text = sequence.target_text()[:-1]
    for p in range(1, len(text) + 1):
        if all(text[i] == text[i % p] for i in range(len(text))):
            return text[:p]
    return text
