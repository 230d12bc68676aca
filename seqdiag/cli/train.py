"""`seqdiag train`: train a model and save a run directory, or resume one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqdiag.cli import (
    ConfigOpt,
    DebugOpt,
    Device,
    DeviceOpt,
    Engine,
    EngineOpt,
    JsonOpt,
    SeedOpt,
    SetOpt,
    ThreadsOpt,
    app,
    choose_engine,
    prepare_torch,
    print_json,
    resolve_config,
    train_now,
    user_errors,
)
from seqdiag.config import Config
from seqdiag.errors import RunFailure, SeqdiagError
from seqdiag.render.messages import print_info, print_warning


def _train_and_save(
    config: Config,
    device: str,
    target: Path,
    force: bool,
    show_progress: bool,
    resume_from=None,
    also_on_step=None,
    engine: str = "torch",
    threads: int | None = None,
):
    """Train (or resume), stopping cleanly on a stop signal, and save atomically; a numerical fault saves the last
    good state only where no run exists, so a failed train never clobbers one. The target is locked, checked
    writable and tidied before training starts. Returns the result and the stop signal's number (or None)."""
    if engine == "torch":
        # Imported before the line below, which says training starts now: torch.optim imports torch._dynamo on
        # first use, which alone takes a second or two (the numba engine never builds a torch optimizer).
        import torch._dynamo  # noqa: F401

    import seqdiag.render.progress  # noqa: F401
    import seqdiag.train  # noqa: F401
    from seqdiag.interrupt import stop_on_interrupt
    from seqdiag.rundir import save_locked, writing

    with writing(target, force) as notes, stop_on_interrupt() as should_stop:
        for note in notes:
            print_info(note)
        start = resume_from.steps_done if resume_from is not None else 0
        print_info(f"training steps {start}..{config.train.steps} → {target} (Ctrl-C stops after the current step)")
        try:
            result = train_now(
                config, device, show_progress, also_on_step, engine, threads, should_stop=should_stop,
                resume_from=resume_from,
            )  # fmt: skip
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
    return result, getattr(should_stop, "signum", None)


def _resume_threads(previous, threads: int | None) -> None:
    """Resume with the threads the run recorded (results depend on them), or warn when told otherwise."""
    import torch

    from seqdiag.device import available_cpus

    recorded = previous.runtime.get("threads")
    if recorded is None:
        if threads is None:
            print_warning(
                "warning: the run does not record its thread count (an older seqdiag); resuming with 1 thread, "
                "which reproduces it only if it ran with 1"
            )
        return
    if threads is None:
        if recorded > available_cpus():
            print_warning(
                f"warning: the run was trained with {recorded} threads, but {available_cpus()} CPUs are available; "
                f"resuming with {available_cpus()}, so it may diverge from an uninterrupted run"
            )
            recorded = available_cpus()
        torch.set_num_threads(recorded)
    elif threads != recorded:
        print_warning(
            f"warning: --threads {threads}, but the run was trained with {recorded}; the resumed steps may differ "
            f"from an uninterrupted run (leave --threads out to use {recorded})"
        )


@app.command()
def train(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default: runs/<pattern>-...).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run directory.")] = False,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue an interrupted run directory to its planned steps, in place."),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            "--tensorboard",
            help="Also log loss, accuracy per procedure and the generated strings to this TensorBoard folder "
            "(pip install tensorboard).",
            metavar="DIR",
        ),
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = None,
    engine: EngineOpt = Engine.auto,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a model and save a run directory (config, weights, history, summary).

    Ctrl-C stops after the current step and saves the run marked interrupted (exit code 130); --resume DIR
    continues it exactly as if it had never stopped. Example: seqdiag train --config alternating --out runs/alt
    """
    with user_errors(debug):
        from seqdiag.rundir import check_target, default_run_dir, load_run, summary_of

        previous = None
        if resume is not None:
            if config is not None or set_ or seed is not None or out is not None:
                raise SeqdiagError("--resume continues the run's own config in place; drop --config/--set/--seed/--out")
            dev = prepare_torch(device, threads)
            previous = load_run(resume, dev)
            for note in previous.notes:
                print_info(note)
            _resume_threads(previous, threads)
            if previous.stopped:
                raise SeqdiagError(
                    f"{resume}: stopped by a numerical fault ({previous.stopped}); resuming would repeat it, "
                    "train again with a smaller train.lr"
                )
            if previous.steps_done >= previous.config.train.steps:
                raise SeqdiagError(f"{resume}: already complete ({previous.steps_done} steps); nothing to resume")
            resolved, target, force = previous.config, resume, True
        else:
            resolved = resolve_config(config, set_, seed)
            target = out or default_run_dir(resolved)
            check_target(target, force)
            dev = prepare_torch(device, threads)
        if previous is not None and engine is Engine.auto:
            from seqdiag.engine import numba_installed

            # A run resumes on the engine that trained it: the only way it ends bit-identical to one never stopped.
            engine = Engine(previous.engine) if previous.engine == "torch" or numba_installed() else Engine.auto
        engine_name = choose_engine(engine, resolved, dev, not json_)
        if tensorboard is not None:
            from seqdiag.sequence import SequenceSet
            from seqdiag.tensorboard_log import TensorBoardLogger

            targets = SequenceSet.from_config(resolved).target_text()
            with TensorBoardLogger(tensorboard, resolved, targets) as logger:
                result, signum = _train_and_save(
                    resolved, dev, target, force, not json_, previous, logger, engine_name, threads
                )
        else:
            result, signum = _train_and_save(
                resolved, dev, target, force, not json_, previous, None, engine_name, threads
            )
        summary = summary_of(result)
        if json_:
            print_json({"command": "train", "run": str(target), "config": resolved.to_dict(), **summary})
        else:
            from seqdiag.render.common import stdout_console
            from seqdiag.render.train import render_trained
            from seqdiag.report import RunInfo

            source = "resumed" if previous is not None else "trained now"
            info = RunInfo(resolved.seed, result.steps_done, result.interrupted, source, engine=result.engine)
            outputs, loss = summary["final_outputs"], summary["final_loss"]
            render_trained(stdout_console(), resolved, info, outputs, loss, target, result.seconds, result.losses[0])
        if result.interrupted:
            import signal

            name = signal.Signals(signum or signal.SIGINT).name
            print_warning(
                f"interrupted after step {result.steps_done} of {resolved.train.steps} ({name}); saved {target} "
                f"marked interrupted; continue with: seqdiag train --resume {target}"
            )
            raise typer.Exit(code=128 + (signum or signal.SIGINT))
