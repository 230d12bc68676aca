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
    prepare_torch,
    print_json,
    resolve_config,
    user_errors,
)
from seqdiag.errors import SeqdiagError
from seqdiag.render.messages import print_warning
from seqdiag.session import Session


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
        from seqdiag.render.progress import StderrObserver  # before training starts, as the stop handler is set
        from seqdiag.resume import open_resume, train_into
        from seqdiag.rundir import check_target, default_run_dir, summary_of

        observer = StderrObserver(show_progress=not json_)
        previous = None
        if resume is not None:
            if config is not None or set_ or seed is not None or out is not None:
                raise SeqdiagError("--resume continues the run's own config in place; drop --config/--set/--seed/--out")
            session = Session(prepare_torch(device, threads), threads, observer)
            plan = open_resume(resume, session, threads, engine.value)
            previous, resolved, target, force, asked = plan.previous, plan.config, resume, True, plan.engine
        else:
            resolved = resolve_config(config, set_, seed)
            target = out or default_run_dir(resolved)
            check_target(target, force)
            session = Session(prepare_torch(device, threads), threads, observer)
            asked = engine.value
        engine_name = session.engine(asked, resolved)
        if tensorboard is not None:
            from seqdiag.sequence import SequenceSet
            from seqdiag.tensorboard_log import TensorBoardLogger

            targets = SequenceSet.from_config(resolved).target_text()
            with TensorBoardLogger(tensorboard, resolved, targets) as logger:
                done = train_into(resolved, target, session, engine_name, force, previous, logger)
        else:
            done = train_into(resolved, target, session, engine_name, force, previous)
        result = done.result
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

            name = signal.Signals(done.signum or signal.SIGINT).name
            print_warning(
                f"interrupted after step {result.steps_done} of {resolved.train.steps} ({name}); saved {target} "
                f"marked interrupted; continue with: seqdiag train --resume {target}"
            )
            raise typer.Exit(code=128 + (done.signum or signal.SIGINT))
