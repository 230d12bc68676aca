"""`seqdiag sample`: one sampling procedure, every step."""

from __future__ import annotations

from typing import Annotated

import typer

from seqdiag import procedures
from seqdiag.cli import (
    ConfigOpt,
    DebugOpt,
    Device,
    DeviceOpt,
    Engine,
    EngineOpt,
    ExportOpt,
    JsonOpt,
    Mode,
    RunOpt,
    SeedOpt,
    SetOpt,
    TemperatureOpt,
    ThreadsOpt,
    TopKOpt,
    app,
    check_export,
    check_run_alone,
    prepare_torch,
    print_json,
    print_report,
    resolve_config,
    sample_overrides,
    user_errors,
)
from seqdiag.session import Session


@app.command()
def sample(
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            "-m",
            help="The sampling procedure: "
            + "; ".join(f"{p.name} = {p.description}" for p in procedures.REGISTRY.values())
            + ".",
        ),
    ] = Mode["free"],
    run: RunOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    engine: EngineOpt = Engine.auto,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Generate with one sampling procedure and show every step (input fed, prediction, probabilities).

    Example: seqdiag sample --mode zeros --run runs/01-lstm-teacher-seed0
    """
    with user_errors(debug):
        decoding_options = {"temperature": temperature, "top_k": top_k}
        check_export(export, json_)
        check_run_alone(run, config, set_, seed)
        # Resolved before importing torch, so a bad config fails fast.
        resolved = None if run is not None else resolve_config(config, set_, seed, decoding_options)
        from seqdiag.render.progress import StderrObserver

        session = Session(prepare_torch(device, threads), threads, StderrObserver(show_progress=not json_))
        result, source = session.obtain(run, resolved, engine.value, sample_overrides(decoding_options))
        from seqdiag.policy import Decoding
        from seqdiag.report import build_sample

        decoding = Decoding(result.config.sample.temperature, result.config.sample.top_k)
        report = build_sample(result, source, mode.value, decoding)
        if json_:
            print_json(report.to_json())
            return
        from seqdiag.render.sample import render_sample

        print_report(render_sample, report, export, f"seqdiag sample --mode {mode.value}")
