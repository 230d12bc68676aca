"""`seqdiag plot`: a run's or a sweep's figures as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqdiag.cli import (
    DebugOpt,
    Device,
    DeviceOpt,
    JsonOpt,
    ThreadsOpt,
    app,
    prepare_torch,
    print_json,
    user_errors,
)


@app.command()
def plot(
    source: Annotated[
        Path,
        typer.Argument(
            help="A run directory (seqdiag train --out DIR) or a sweep's JSON (seqdiag sweep --json > sweep.json).",
            metavar="RUN",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the figures (default: figures/<RUN name>).")
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Draw a run's figures as PNG and SVG: loss, accuracy through training, p(target), hidden states, drift.

    Needs matplotlib: pip install matplotlib (from a checkout: pip install -e '.\\[plot]').
    Example: seqdiag plot runs/orig --out figures/orig
    """
    with user_errors(debug):
        from seqdiag.plot import read_sweep, require_matplotlib

        require_matplotlib()
        target = out or Path("figures") / source.stem
        if source.is_file():
            from seqdiag.plot import plot_sweep

            result = plot_sweep(read_sweep(source), target, str(source))
        else:
            from seqdiag.plot import plot_run, run_curves
            from seqdiag.rundir import load_run

            dev = prepare_torch(device, threads)
            run = load_run(source, dev)
            result = plot_run(run_curves(run, source.name), target, str(source))
        if json_:
            print_json(result.to_json())
            return
        from seqdiag.render.common import stdout_console
        from seqdiag.render.plot import render_plot

        render_plot(stdout_console(), result)
