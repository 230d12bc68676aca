"""`seqdiag compare`: every sampling procedure side by side, and the verdict."""

from __future__ import annotations

import contextlib
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
    choose_engine,
    injection_steps,
    parse_policies,
    parse_steps,
    prepare_torch,
    print_json,
    print_report,
    resolve_config,
    train_now,
    trained,
    user_errors,
)
from seqdiag.errors import SeqdiagError
from seqdiag.render.messages import print_info
from seqdiag.task import shortest_sequence


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
        decoding_options = {"temperature": temperature, "top_k": top_k}
        check_export(export, json_)
        policies = parse_policies(train_policies) if train_policies is not None else None
        if inject is not None:
            parse_steps(inject)  # its syntax, before any training
        if policies and run is not None:
            raise SeqdiagError("--train trains every policy from a config; drop --run or drop --train")
        check_run_alone(run, config, set_, seed)
        if policies:  # the first policy's model is the one diagnosed in full
            set_ = [*(set_ or []), f"train.policy={policies[0]}"]
        resolved = None
        if run is None:
            resolved = resolve_config(config, set_, seed, decoding_options)
            injection_steps(inject, shortest_sequence(resolved.sequence))
            _refuse_argmax_rollouts(rollouts, resolved.sample.temperature)
        if out is not None:
            from seqdiag.rundir import check_target

            check_target(out, force)
        elif force:
            raise SeqdiagError("--force replaces the --out run directory; add --out DIR or drop --force")
        dev = prepare_torch(device, threads)
        label = f"training {policies[0]} (1/{len(policies)})" if policies and len(policies) > 1 else "training"
        with contextlib.ExitStack() as stack:
            if out is not None:  # locked and checked writable before training, so the training is not lost
                from seqdiag.rundir import save_locked, writing

                for note in stack.enter_context(writing(out, force)):
                    print_info(note)
            result, source = trained(run, resolved, dev, decoding_options, not json_, engine, threads, label)
            inject_at = injection_steps(inject, shortest_sequence(result.config.sequence))
            _refuse_argmax_rollouts(rollouts, result.config.sample.temperature)
            if out is not None:
                save_locked(result, out, force)
        from seqdiag.policy import Decoding
        from seqdiag.report import build_compare

        decoding = Decoding(result.config.sample.temperature, result.config.sample.top_k)
        matrix = None
        if policies:
            from seqdiag.matrix import build_matrix, policy_config

            results = {policies[0]: result}
            name = choose_engine(result.engine, result.config, dev, not json_)  # the first policy's, said once
            for i, policy in enumerate(policies[1:], start=2):
                label = f"training {policy} ({i}/{len(policies)})"
                config_i = policy_config(result.config, policy)
                results[policy] = train_now(config_i, dev, not json_, None, name, threads, label)
            matrix = build_matrix(results, inject_at)
        report = build_compare(
            result, source, decoding, rollouts_n=rollouts, inject_at=inject_at, matrix=matrix, show=show
        )
        if test_fixes:
            from seqdiag.fixes import measure_fixes

            def measure(fixed, changes):
                # Resolved and trained exactly as a plain `compare --set ...` would: same engine choice, same threads.
                sampled = Decoding(fixed.sample.temperature, fixed.sample.top_k)
                fix_engine = choose_engine(engine, fixed, dev, not json_)
                label = f"testing {' '.join(changes)}"
                trained_fix = train_now(fixed, dev, not json_, None, fix_engine, threads, label=label)
                return build_compare(trained_fix, "trained now", sampled, inject_at=inject_at).summary()

            report = measure_fixes(report, measure)
        if json_:
            print_json(report.to_json())
            return
        from seqdiag.render.compare import render_compare

        print_report(partial(render_compare, full=full), report, export, "seqdiag compare")


def _refuse_argmax_rollouts(rollouts: int, temperature: float) -> None:
    """Several rollouts under argmax would be one output repeated: refuse rather than report a spread of one."""
    if rollouts > 1 and temperature == 0:
        raise SeqdiagError(
            f"--rollouts {rollouts} at temperature 0: argmax gives the same output every time; "
            "add --temperature T (e.g. 1) or drop --rollouts"
        )
