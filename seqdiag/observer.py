"""What a core operation tells its caller while it runs, without printing anything itself.

Training, loading a run and making the numba kernels ready take seconds to minutes and have things to say on the
way: notes (what was done, which engine and why), warnings (a long run, a thread count that differs from the
run's), and progress. The core reports them to an `Observer`; the command line passes one that draws on stderr
(`seqdiag.render.progress.StderrObserver`), a Python caller or a test passes nothing (`QUIET`) or its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from seqdiag.train import TrainProgress

OnStep = Callable[["TrainProgress"], None]


class Observer(Protocol):
    """Receives what a core operation has to say while it runs."""

    def note(self, text: str) -> None:
        """A line of what is being done (an engine chosen, a run recovered)."""

    def warn(self, text: str) -> None:
        """A line the user should act on or know (a long run, results that may differ)."""

    def training(self, steps: int, label: str) -> AbstractContextManager[OnStep]:
        """Around a training of `steps` steps headed `label`; yields the callback that sees every step."""
        ...

    def kernels(self, compiling: bool) -> AbstractContextManager[None]:
        """Around making the numba kernels ready: the one-time compile, or a load from the cache."""
        ...


class Quiet:
    """An observer that drops everything: the default for a Python caller."""

    def note(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    @contextmanager
    def training(self, steps: int, label: str) -> Iterator[OnStep]:
        yield lambda progress: None

    @contextmanager
    def kernels(self, compiling: bool) -> Iterator[None]:
        yield


QUIET: Observer = Quiet()
