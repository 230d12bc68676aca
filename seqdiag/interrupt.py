"""Stop signals: Ctrl-C (SIGINT), SIGTERM and SIGHUP all mean "stop", and none of them leaves a half-written file.

While training, the first stop signal asks the trainer to stop after the current step (so the run can be
saved marked interrupted and resumed); a second one aborts. Outside training a stop signal raises
`Interrupted` (a KeyboardInterrupt), so the code unwinding it removes its temporary files, and the CLI exits
with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP) and one quiet line.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal turned into an exception; `signum` says which (SIGINT when raised by Python itself)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, the shell's convention for a process a signal stopped."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


_received: list[int] = []  # the stop signals this process has received, in order


def forget_signals() -> None:
    """Start a command with no stop signal on record (a process running several, like a test, reuses this)."""
    _received.clear()


def last_signal() -> int | None:
    """The stop signal received last, if any: lets an exit code be 143 for SIGTERM where a library that caught the
    KeyboardInterrupt only knew to say 130."""
    return _received[-1] if _received else None


def _raise(signum: int, frame: object) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def install_stop_handlers() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C (an exception, so cleanup runs) instead of killing the process
    where it stands. Called once by the entry point; a no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise)


class StopRequest:
    """What `stop_on_interrupt` yields: call it to ask whether a stop was requested; `signum` says which signal."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self._event.is_set()

    def _set(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        self._event.set()


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, a stop signal (SIGINT, SIGTERM, SIGHUP) sets a flag instead of raising; yields a
    `StopRequest`, the callable that reads it.

    A second stop signal raises `Interrupted` at once (for a user who really wants out). Outside the main
    thread, where Python cannot install signal handlers, the callable always says no.
    """
    request = StopRequest()

    def on_signal(signum: int, frame: object) -> None:
        _received.append(signum)
        if request():
            raise Interrupted(signum)
        request._set(signum)

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
