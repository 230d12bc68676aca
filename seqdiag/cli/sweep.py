"""`seqdiag sweep`: many seeds as one batched stack, and grids of config overrides."""

from __future__ import annotations

from enum import StrEnum
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
    ExportOpt,
    JsonOpt,
    SetOpt,
    app,
    check_export,
    parse_policies,
    prepare_torch,
    print_json,
    print_report,
    resolve_config,
    user_errors,
)
from seqdiag.config import TRAIN_POLICIES, Config
from seqdiag.errors import SeqdiagError
from seqdiag.render.messages import print_info
from seqdiag.session import Session


class Executor(StrEnum):
    local = "local"
    ray = "ray"


DEFAULT_SWEEP_SEEDS = 64


SweepTrainOpt = Annotated[
    str | None,
    typer.Option(
        "--train",
        help=f"Training policies to compare (comma-separated: {', '.join(TRAIN_POLICIES)}); each trains its own "
        "stack of the same seeds, and the policy x procedure matrix of rates is shown.",
        metavar="POLICIES",
    ),
]


def _sweep_now(
    config: Config, n_seeds: int, policies: list[str] | None, device: str, show_progress: bool, engine, threads: int
):
    """Run a sweep with a progress bar on stderr, one line per training policy."""
    from seqdiag.render.common import stderr_console
    from seqdiag.render.progress import StderrObserver, training_progress
    from seqdiag.sweep import run_sweep

    console = stderr_console()

    def on_policy(policy: str, index: int, count: int) -> None:
        if show_progress:
            on = f" on {threads} kernel threads" if engine == "numba" and threads > 1 else ""
            console.print(f"training {n_seeds} seeds under {policy} ({index + 1}/{count}) as one batched stack{on}")

    Session(device, observer=StderrObserver(show_progress)).check_resources(config, n_seeds)
    with training_progress(console, config.train.steps, enabled=show_progress) as on_step:
        return run_sweep(
            config, n_seeds, policies, device, on_policy=on_policy, on_step=on_step, engine=engine, threads=threads
        )


def _grid_now(grid: Path, seeds, config, overrides, seed, policies, executor, address, device, threads, show, engine):
    """Load a grid file, check every cell, then run the cells with the executor; a line per cell on stderr."""
    from seqdiag.grid import grid_cells, load_grid, run_grid

    spec = load_grid(grid)
    if policies is None and spec.train is not None:
        policies = parse_policies(",".join(spec.train))
    cells = grid_cells(spec, config, overrides or [], seed)
    n_seeds = seeds or spec.seeds or DEFAULT_SWEEP_SEEDS
    if executor is Executor.local:
        from seqdiag.render.progress import StderrObserver

        session = Session(observer=StderrObserver(show))
        for cell in cells:
            session.check_resources(cell.config, n_seeds)
        device_name = prepare_torch(device, threads)
    else:  # resolved on each Ray worker, which may have a GPU where this machine has none
        device_name = device.value

    def on_cell(index: int, count: int, cell) -> None:
        if show:
            verb = "training" if executor is Executor.local else "done"
            print_info(f"cell {index + 1}/{count} {verb}: {cell.label} ({n_seeds} seeds)")

    return run_grid(
        cells,
        n_seeds,
        policies,
        device_name,
        source=spec.source,
        axes=spec.axes,
        executor=executor.value,
        address=address,
        threads=1 if threads is None else threads,
        engine=engine.value,
        on_cell=on_cell,
    )


@app.command()
def sweep(
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            "-n",
            min=1,
            max=1_000_000,
            help=f"How many seeds to train as one batched stack (default {DEFAULT_SWEEP_SEEDS}, or the grid's).",
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The first seed; the sweep trains seed .. seed + N - 1 (default 0).")
    ] = None,
    train_policies: SweepTrainOpt = None,
    grid: Annotated[
        Path | None,
        typer.Option(
            "--grid",
            help="Run a grid of config overrides x seeds from a TOML file, each cell one batched sweep "
            "(format: configs/grids/example.toml).",
            metavar="GRID.toml",
        ),
    ] = None,
    executor: Annotated[
        Executor,
        typer.Option(
            "--executor",
            # \\[ keeps Rich markup from reading [ray] as a style.
            help="Where grid cells run: local (here, one after another) or ray (pip install ray).",
        ),
    ] = Executor.local,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", help="The Ray cluster for --executor ray (e.g. auto or HOST:PORT); default: start a local one."
        ),
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="Torch intra-op threads, and the numba kernel's. Default: torch 1 (the fastest for models this "
            "small), the numba kernel every CPU available (its models split into blocks; results do not depend on "
            "the kernel's threads); each cell of a --grid: 1.",
        ),
    ] = None,
    engine: EngineOpt = Engine.auto,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train many seeds at once and show, per sampling procedure, how often it is right at the end (95% interval).

    One run says what happened; many seeds say whether it was luck. Example: seqdiag sweep --seeds 64 --train
    teacher,free
    """
    with user_errors(debug):
        check_export(export, json_)
        policies = parse_policies(train_policies) if train_policies is not None else None
        if grid is None and (executor is not Executor.local or address is not None):
            raise SeqdiagError("--executor and --address fan out the cells of a grid; add --grid GRID.toml")
        if grid is not None:
            result = _grid_now(
                grid, seeds, config, set_, seed, policies, executor, address, device, threads, not json_, engine
            )
            if json_:
                print_json(result.to_json())
                return
            from seqdiag.render.sweep import render_grid

            print_report(render_grid, result, export, "seqdiag sweep --grid")
            return
        resolved = resolve_config(config, set_, seed)
        n_seeds = seeds or DEFAULT_SWEEP_SEEDS
        from seqdiag.render.progress import StderrObserver

        dev = prepare_torch(device, threads)
        from seqdiag.device import available_cpus

        kernel_threads = available_cpus() if threads is None else threads
        name = Session(dev, kernel_threads, StderrObserver(show_progress=not json_)).engine(engine.value, resolved)
        result = _sweep_now(resolved, n_seeds, policies, dev, not json_, name, kernel_threads)
        if json_:
            print_json(result.to_json())
            return
        from seqdiag.render.sweep import render_sweep

        print_report(render_sweep, result, export, "seqdiag sweep")
