"""Training into a run directory, and resuming one.

What a resume accepts and refuses (a run stopped by a numerical fault, or already complete), the threads and the
engine it continues with (those the run recorded: the only way it ends bit-identical to a run never stopped),
and `train_into`: training that stops cleanly on a stop signal and saves the run whole, never clobbering a run
that exists when training fails. Nothing here prints: what the user should hear goes to the session's observer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seqdiag.errors import RunFailure, SeqdiagError
from seqdiag.observer import OnStep
from seqdiag.session import Session

if TYPE_CHECKING:
    from seqdiag.config import Config
    from seqdiag.train import TrainResult


@dataclass(frozen=True)
class Resume:
    """A run directory to continue in place, and how."""

    previous: TrainResult
    """The run as saved: its config, weights, optimizer state and the steps it has done."""
    path: Path
    engine: str
    """The engine to ask for: the one the run recorded when it can run here, else what was asked."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def config(self) -> Config:
        return self.previous.config

    @property
    def steps_remaining(self) -> int:
        return self.previous.config.train.steps - self.previous.steps_done


@dataclass(frozen=True)
class Trained:
    """What `train_into` left: the result saved at `target`, and the stop signal that ended it early, if any."""

    result: TrainResult
    target: Path
    signum: int | None = None
    """The number of the stop signal (SIGINT, SIGTERM, SIGHUP) that interrupted training; None: it finished."""


def resume_threads(recorded: int | None, asked: int | None, cpus: int) -> tuple[int | None, str | None]:
    """The torch threads a resume runs with, and a warning when they cannot be the run's.

    Results depend on the threads, so a resume takes the count the run recorded (at most the `cpus` available)
    unless the user asked for one (`asked`), which is kept, with a warning when it differs.

    Returns:
        (threads to set, or None to leave them as asked; a warning line, or None).
    """
    if recorded is None:
        if asked is None:
            return None, (
                "warning: the run does not record its thread count (an older seqdiag); resuming with 1 thread, "
                "which reproduces it only if it ran with 1"
            )
        return None, None
    if asked is None:
        if recorded > cpus:
            return cpus, (
                f"warning: the run was trained with {recorded} threads, but {cpus} CPUs are available; "
                f"resuming with {cpus}, so it may diverge from an uninterrupted run"
            )
        return recorded, None
    if asked != recorded:
        return None, (
            f"warning: --threads {asked}, but the run was trained with {recorded}; the resumed steps may differ "
            f"from an uninterrupted run (leave --threads out to use {recorded})"
        )
    return None, None


def resume_engine(asked: str, recorded: str, numba_available: bool) -> str:
    """The engine to ask for on resume: with "auto", the one that trained the run (where numba is installed, for a
    numba run), since only that ends bit-identical to a run never stopped; an explicit choice is kept."""
    if asked != "auto":
        return asked
    return recorded if recorded == "torch" or numba_available else "auto"


def check_resumable(previous: TrainResult, path: Path) -> None:
    """Refuse a run that a resume cannot continue.

    Raises:
        SeqdiagError: stopped by a numerical fault (resuming would repeat it), or already complete.
    """
    if previous.stopped:
        raise SeqdiagError(
            f"{path}: stopped by a numerical fault ({previous.stopped}); resuming would repeat it, "
            "train again with a smaller train.lr"
        )
    if previous.steps_done >= previous.config.train.steps:
        raise SeqdiagError(f"{path}: already complete ({previous.steps_done} steps); nothing to resume")


def open_resume(path: Path, session: Session, threads: int | None = None, engine: str = "auto") -> Resume:
    """Load a run to continue: its notes and the threads warning told to the session's observer, torch set to the
    threads the run recorded (unless `threads` was asked), refused when it cannot be resumed.

    Raises:
        RunError: the run cannot be loaded.
        SeqdiagError: it cannot be resumed (`check_resumable`).
    """
    import torch

    from seqdiag.device import available_cpus
    from seqdiag.engine import numba_installed

    previous = session.load(path)
    use, warning = resume_threads(previous.runtime.get("threads"), threads, available_cpus())
    if warning is not None:
        session.observer.warn(warning)
    if use is not None:
        torch.set_num_threads(use)
    check_resumable(previous, path)
    engine = resume_engine(engine, previous.engine, numba_installed())
    return Resume(previous, path, engine, (warning,) if warning else ())


def train_into(
    config: Config,
    target: Path,
    session: Session,
    engine: str = "torch",
    force: bool = False,
    resume_from: TrainResult | None = None,
    also_on_step: OnStep | None = None,
) -> Trained:
    """Train (or resume) `config` on `engine` into the run directory `target`, stopping cleanly after the current
    step on a stop signal (the run is saved marked interrupted), and save it atomically.

    The target is locked, checked writable and tidied before training starts. A numerical fault saves the last
    good state (marked stopped) only where no run exists, so a failed training never clobbers one.

    Raises:
        RunFailure: training failed numerically (the message says what was saved, or that nothing was), or the
            run could not be saved at `target` (it is saved to a fallback folder the message names).
        RunError: another process is writing `target`, or it cannot be written.
    """
    if engine == "torch":
        # Imported before the line below, which says training starts now: torch.optim imports torch._dynamo on
        # first use, which alone takes a second or two (the numba engine never builds a torch optimizer).
        import torch._dynamo  # noqa: F401

    import seqdiag.train  # noqa: F401
    from seqdiag.interrupt import stop_on_interrupt
    from seqdiag.rundir import save_locked, writing

    with writing(target, force) as notes, stop_on_interrupt() as should_stop:
        for note in notes:
            session.observer.note(note)
        start = resume_from.steps_done if resume_from is not None else 0
        session.observer.note(
            f"training steps {start}..{config.train.steps} → {target} (Ctrl-C stops after the current step)"
        )
        try:
            result = session.train(
                config, engine, also_on_step=also_on_step, should_stop=should_stop, resume_from=resume_from
            )
        except RunFailure as exc:
            if exc.partial is None:
                raise RunFailure(f"{exc}; nothing saved") from None
            if target.exists():
                raise RunFailure(f"{exc}; {target} left unchanged") from None
            save_locked(exc.partial, target)  # type: ignore[arg-type]
            steps = exc.partial.steps_done  # type: ignore[attr-defined]
            saved = f"the last good state (after step {steps}) is saved in {target} marked stopped"
            raise RunFailure(f"{exc}; {saved}") from None
        save_locked(result, target, force=force)
    return Trained(result, target, getattr(should_stop, "signum", None))
