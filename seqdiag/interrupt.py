"""Ctrl-C during training: the first one asks the trainer to stop after the current step, a second one aborts.

The trainer polls the returned callable before every step (`train(should_stop=...)`), so an interrupted
run ends on a whole step and can be saved, loaded and resumed like any other.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, SIGINT sets a flag instead of raising; yields the callable that reads it.

    A second SIGINT raises KeyboardInterrupt at once (for a user who really wants out). Outside the main
    thread, where Python cannot install signal handlers, the callable always says no.
    """
    requested = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
