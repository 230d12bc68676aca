"""`seqdiag compare`: every sampling procedure side by side, and the verdict."""

from __future__ import annotations

from functools import partial
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
    InjectOpt,
    JsonOpt,
    RolloutsOpt,
    RunOpt,
    SeedOpt,
    SetOpt,
    TemperatureOpt,
    ThreadsOpt,
    TopKOpt,
    TrainPoliciesOpt,
    app,
    check_export,
    check_run_alone,
    parse_policies,
    parse_steps,
    prepare_torch,
    print_json,
    print_report,
    resolve_config,
    sample_overrides,
    user_errors,
)
from seqdiag.comparison import CompareOptions, check_compare
from seqdiag.comparison import compare as run_compare
from seqdiag.errors import SeqdiagError
from seqdiag.session import Session


@app.command()
def compare(
    run: RunOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    train_policies: TrainPoliciesOpt = None,
    rollouts: RolloutsOpt = 1,
    inject: InjectOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also save the trained run here.")] = None,
    test_fixes: Annotated[
        bool,
        typer.Option(
            "--test-fixes",
            help="Retrain with each config change a finding proposes and report what it measured (one training "
            "per change); in --json each such finding carries `tested: {set, before, after}`.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="With --out: replace an existing run directory.")] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Show everything: the history table, the depth tables and every evidence line."),
    ] = False,
    show: Annotated[
        int | None,
        typer.Option(
            "--show",
            min=0,
            help="With several sequences: detail sequence N (0-based, as numbered in the per-sequence table) "
            "instead of the one that goes wrong first.",
            metavar="N",
        ),
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    engine: EngineOpt = Engine.auto,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The main job: train (or load) a model, run every sampling procedure side by side, and explain the difference.

    With no options it reproduces the 2015 setup. Example: seqdiag compare --config pairs
    """
    with user_errors(debug):
        check_export(export, json_)
        policies = parse_policies(train_policies) if train_policies is not None else None
        inject_at = parse_steps(inject) if inject is not None else None  # its syntax, before any training
        if policies and run is not None:
            raise SeqdiagError("--train trains every policy from a config; drop --run or drop --train")
        check_run_alone(run, config, set_, seed)
        if policies:  # the first policy's model is the one diagnosed in full
            set_ = [*(set_ or []), f"train.policy={policies[0]}"]
        decoding_options = {"temperature": temperature, "top_k": top_k}
        options = CompareOptions(
            config=None if run is not None else resolve_config(config, set_, seed, decoding_options),
            run=run,
            sample_overrides=tuple(sample_overrides(decoding_options)),
            policies=tuple(policies or ()),
            rollouts=rollouts,
            inject=None if inject_at is None else tuple(inject_at),
            out=out,
            force=force,
            test_fixes=test_fixes,
            show=show,
            engine=engine.value,
        )
        check_compare(options)
        if force and out is None:
            raise SeqdiagError("--force replaces the --out run directory; add --out DIR or drop --force")
        from seqdiag.render.progress import StderrObserver

        session = Session(prepare_torch(device, threads), threads, StderrObserver(show_progress=not json_))
        report = run_compare(options, session)
        if json_:
            print_json(report.to_json())
            return
        from seqdiag.render.compare import render_compare

        print_report(partial(render_compare, full=full), report, export, "seqdiag compare")
