"""How a command gets a trained model: the engine chosen (its kernels made ready), the budget checked, trained
with progress reported to an observer, or loaded from a run directory.

A `Session` holds what every training of one command shares: the device, the threads, and whom to tell (an
`seqdiag.observer.Observer`). It prints nothing itself, so a Python caller or a test uses it as the command line
does, without Typer or Rich: `Session("cpu", threads=1).obtain(config=load_config("names"))`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdiag.config import Config
from seqdiag.observer import QUIET, Observer, OnStep

if TYPE_CHECKING:
    from seqdiag.train import TrainProgress, TrainResult

ENGINES = ("auto", "torch", "numba")
TRAINED_NOW = "trained now"  # a report's source when the model was not loaded from a run


@dataclass(frozen=True)
class Session:
    """Where and how one command trains, and whom it tells."""

    device: str = "cpu"
    """A resolved torch device ("cpu" or "cuda")."""
    threads: int | None = None
    """The numba kernel's threads; None: torch's intra-op threads at the time of training."""
    observer: Observer = QUIET
    """Receives notes, warnings and progress."""

    def check_resources(self, config: Config, seeds: int = 1) -> None:
        """Refuse a run that cannot fit in this machine's memory; warn with the estimate when it will be slow.

        Raises:
            SeqdiagError: the memory estimate exceeds what is available.
        """
        from seqdiag.budget import check_budget

        for warning in check_budget(config, seeds):
            self.observer.warn(f"warning: {warning}")

    def engine(self, asked: str, config: Config) -> str:
        """The engine that computes `config` ("torch" or "numba") when `asked` ("auto", "torch" or "numba"); says
        once why it is not the one asked for, and makes the numba kernels ready (a load, or the one-time compile).

        Raises:
            SeqdiagError: numba asked for where it cannot run the config, or its kernel cache cannot be used.
        """
        from seqdiag.engine import (
            KernelCacheError,
            check_cache_writable,
            kernels_cached,
            prepare_kernels,
            resolve_engine,
        )
        from seqdiag.errors import SeqdiagError
        from seqdiag.task import task_from_config

        task = task_from_config(config.sequence, config.sample.prompt)
        choice = resolve_engine(
            str(asked), config.model.cell, config.model.gate, self.device, len(task.bodies), task.prompt
        )
        if choice.reason is not None:
            self.observer.note(f"engine {choice.name}: {choice.reason}")
        if choice.name == "numba":
            try:
                cell = config.model.cell  # each cell's kernels are compiled apart, when first needed
                check_cache_writable()  # before a compile is announced
                with self.observer.kernels(compiling=not kernels_cached(cell=cell)):
                    status = prepare_kernels(cell=cell)
            except KernelCacheError as error:  # a cache that cannot be used: auto falls back, numba asked for fails
                if choice.requested == "numba":
                    raise SeqdiagError(f"--engine numba: {error}") from None
                self.observer.note(f"engine torch: fell back: {error}")
                return "torch"
            if status.note is not None:
                self.observer.note(status.note)
        return choice.name

    def train(
        self,
        config: Config,
        engine: str = "torch",
        label: str = "training",
        also_on_step: OnStep | None = None,
        **options: Any,
    ) -> TrainResult:
        """Train `config` on `engine` (what `engine()` returned), its progress headed `label`; `also_on_step`
        (e.g. a TensorBoard logger) sees every step too; `options` go to `seqdiag.train.train` (should_stop,
        resume_from)."""
        import torch

        import seqdiag.train

        threads = torch.get_num_threads() if self.threads is None else self.threads
        self.check_resources(config)
        with self.observer.training(config.train.steps, label) as on_step:
            if also_on_step is not None:
                on_step = _both(on_step, also_on_step)
            return seqdiag.train.train(
                config, device=self.device, on_step=on_step, engine=engine, threads=threads, **options
            )

    def load(self, run: Path, sample_overrides: Sequence[str] = ()) -> TrainResult:
        """A run directory, trained by the engine it records; `sample_overrides` (`sample.key=value`) choose the
        decoding anew, checked against the run's config.

        Raises:
            RunError: the run is missing, incomplete or corrupted (naming the file).
            ConfigError: a decoding override is invalid for the run.
        """
        from seqdiag.config import refuse_ignored, with_overrides
        from seqdiag.rundir import load_run

        result = load_run(run, self.device)
        for note in result.notes:
            self.observer.note(note)
        if sample_overrides:
            result.config = with_overrides(result.config, list(sample_overrides))
            refuse_ignored(result.config, {})
        return result

    def obtain(
        self,
        run: Path | None = None,
        config: Config | None = None,
        engine: str = "auto",
        sample_overrides: Sequence[str] = (),
        label: str = "training",
    ) -> tuple[TrainResult, str]:
        """A trained model: loaded from `run`, or trained now from `config` on `engine` (as asked). Returns the
        result and its source for the report (the run's path, or "trained now")."""
        if run is not None:
            return self.load(run, sample_overrides), str(run)
        if config is None:
            raise ValueError("obtain needs a run directory or a config")
        name = self.engine(engine, config)
        return self.train(config, engine=name, label=label), TRAINED_NOW


def _both(first: OnStep, second: OnStep) -> OnStep:
    def on_step(progress: TrainProgress) -> None:
        first(progress)
        second(progress)

    return on_step
