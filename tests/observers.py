"""An observer (seqdiag.observer.Observer) that records what the core tells it, for tests of the core alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Recorder:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.trainings: list[tuple[int, str]] = []  # (steps, label)
        self.steps_seen = 0

    def note(self, text: str) -> None:
        self.notes.append(text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    @contextmanager
    def training(self, steps: int, label: str) -> Iterator:
        self.trainings.append((steps, label))

        def on_step(progress) -> None:
            self.steps_seen += 1

        yield on_step

    @contextmanager
    def kernels(self, compiling: bool) -> Iterator[None]:
        yield
