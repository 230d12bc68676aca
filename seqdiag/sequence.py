"""The sequences as tensors: vocabulary, inputs and targets, exactly as the 2015 setup built them.

inputs  = S x0 x1 ... x_{n-1}        (n + 1 steps)
targets = x0 x1 ... x_{n-1} S        (the inputs shifted by one, the end symbol last)

What the sequences are (the toy pattern, a text, a file of lines) is the task (`seqdiag.task`); a task with
several sequences trains them as one batch, padded at the end (`SequenceSet`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqdiag import judgement
from seqdiag.config import Config, SequenceConfig
from seqdiag.task import Task, task_from_config

PAD = -1  # the target index of a padded step: ignored by the loss


@dataclass(frozen=True)
class Vocabulary:
    """Symbols in sorted order, so indices do not depend on the process (a Python set's order does)."""

    symbols: tuple[str, ...]

    @classmethod
    def from_config(cls, config: SequenceConfig) -> Vocabulary:
        return cls(task_from_config(config).symbols)

    def __len__(self) -> int:
        return len(self.symbols)

    def index(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def decode(self, indices: list[int] | torch.Tensor) -> str:
        return "".join(self.symbols[int(i)] for i in indices)

    def one_hot(self, indices: torch.Tensor) -> torch.Tensor:
        """(...,) long -> (..., vocab) float."""
        return torch.nn.functional.one_hot(indices, len(self.symbols)).float()


@dataclass(frozen=True)
class ToySequence:
    """One sequence as index tensors."""

    vocabulary: Vocabulary
    start_symbol: str
    inputs: torch.Tensor  # (T,) long: start symbol, then the sequence's symbols
    targets: torch.Tensor  # (T,) long: the sequence's symbols, then the end symbol
    prompt: int = 0  # the first `prompt` symbols are given to every procedure and not judged

    @classmethod
    def from_config(cls, config: SequenceConfig, prompt: int = 0) -> ToySequence:
        """The task's first (for the toy pattern and a text, its only) sequence."""
        return SequenceSet.from_task(task_from_config(config, prompt)).sequences[0]

    @classmethod
    def from_body(cls, vocabulary: Vocabulary, marker: str, body: str, prompt: int = 0) -> ToySequence:
        inputs = [marker, *body]
        targets = [*body, marker]
        as_tensor = lambda seq: torch.tensor([vocabulary.index(s) for s in seq], dtype=torch.long)  # noqa: E731
        return cls(vocabulary, marker, as_tensor(inputs), as_tensor(targets), prompt)

    @property
    def steps(self) -> int:
        return int(self.targets.numel())

    @property
    def start_index(self) -> int:
        return self.vocabulary.index(self.start_symbol)

    def input_vectors(self) -> torch.Tensor:
        """(T, vocab) one-hot inputs."""
        return self.vocabulary.one_hot(self.inputs)

    def target_text(self) -> str:
        return self.vocabulary.decode(self.targets)


@dataclass(frozen=True)
class SequenceSet:
    """Every sequence of a task, on one vocabulary; trained together as one batch."""

    task: Task
    vocabulary: Vocabulary
    sequences: list[ToySequence]

    @classmethod
    def from_task(cls, task: Task) -> SequenceSet:
        vocabulary = Vocabulary(task.symbols)
        sequences = [ToySequence.from_body(vocabulary, task.marker, body, task.prompt) for body in task.bodies]
        return cls(task, vocabulary, sequences)

    @classmethod
    def from_config(cls, config: Config) -> SequenceSet:
        return cls.from_task(task_from_config(config.sequence, config.sample.prompt))

    @property
    def prompt(self) -> int:
        return self.task.prompt

    @property
    def steps(self) -> int:
        """The longest sequence's steps (the padded batch's length)."""
        return max(s.steps for s in self.sequences)

    def batch_inputs(self) -> torch.Tensor:
        """(B, T, V) one-hot inputs, zero vectors after each sequence's end."""
        out = torch.zeros(len(self.sequences), self.steps, len(self.vocabulary))
        for i, s in enumerate(self.sequences):
            out[i, : s.steps] = s.input_vectors()
        return out

    def batch_targets(self) -> torch.Tensor:
        """(B, T) long targets, PAD after each sequence's end."""
        out = torch.full((len(self.sequences), self.steps), PAD, dtype=torch.long)
        for i, s in enumerate(self.sequences):
            out[i, : s.steps] = s.targets
        return out

    def target_text(self) -> str:
        """Every sequence's targets, joined as `seqdiag.judgement` reads joined outputs."""
        return judgement.join([s.target_text() for s in self.sequences])
