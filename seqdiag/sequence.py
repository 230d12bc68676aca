"""The toy sequence: vocabulary, inputs and targets, exactly as the 2015 setup built them.

inputs  = S x0 x1 ... x_{n-1}        (n + 1 steps)
targets = x0 x1 ... x_{n-1} S        (the inputs shifted by one, the end symbol last)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqdiag.config import SequenceConfig


@dataclass(frozen=True)
class Vocabulary:
    """Symbols in sorted order, so indices do not depend on the process (a Python set's order does)."""

    symbols: tuple[str, ...]

    @classmethod
    def from_config(cls, config: SequenceConfig) -> Vocabulary:
        return cls(tuple(sorted(set(config.pattern) | {config.start_symbol})))

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
    """The single training sequence as index tensors."""

    vocabulary: Vocabulary
    start_symbol: str
    inputs: torch.Tensor  # (T,) long: start symbol, then the pattern
    targets: torch.Tensor  # (T,) long: the pattern, then the end symbol

    @classmethod
    def from_config(cls, config: SequenceConfig) -> ToySequence:
        vocabulary = Vocabulary.from_config(config)
        body = [config.pattern[t % len(config.pattern)] for t in range(config.length)]
        inputs = [config.start_symbol, *body]
        targets = [*body, config.start_symbol]
        as_tensor = lambda seq: torch.tensor([vocabulary.index(s) for s in seq], dtype=torch.long)  # noqa: E731
        return cls(vocabulary, config.start_symbol, as_tensor(inputs), as_tensor(targets))

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
