"""The command line: parse options, call one core function, hand the result to the renderer.

Torch is imported inside the commands, so `seqdiag --help` and config errors answer at once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from seqdiag.config import Config, load_config
from seqdiag.errors import RunFailure, SeqdiagError


class OneLineErrors(TyperGroup):
    """Usage errors (an unknown option, a value not among the choices) as one `error:` line on stderr and exit
    code 2, like every other error, instead of Click's usage block."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **kwargs: Any,
    ) -> Any:
        passed = (args, prog_name, complete_var)
        if not standalone_mode:
            return super().main(*passed, False, windows_expand_args, **kwargs)
        try:
            code = super().main(*passed, False, windows_expand_args, **kwargs)
        except typer.Abort:
            _stderr().print(Text("aborted", style="yellow"))
            sys.exit(1)
        except Exception as exc:
            # Click's errors, matched by name as typer does: newer typer vendors Click under typer._click.
            kinds = {cls.__name__ for cls in type(exc).__mro__}
            if "ClickException" not in kinds:
                raise
            if "NoArgsIsHelpError" not in kinds:  # that one's help is already shown
                ctx = getattr(exc, "ctx", None)
                hint = f" (see {ctx.command_path} --help)" if "UsageError" in kinds and ctx is not None else ""
                message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
                _stderr().print(Text("error: ", style="bold red") + Text(message + hint), soft_wrap=True)
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="seqdiag",
    help="Why does a sequence model that trains fine generate the wrong thing? Train a toy LSTM and compare "
    "teacher-forced, free-running and zero-input sampling side by side.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


class Mode(StrEnum):
    teacher = "teacher"
    free = "free"
    zeros = "zeros"
    refeed = "refeed"


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", help="Preset name (original, alternating, ...) or a TOML file. Default: the 2015 setup."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override one key, e.g. --set train.lr=0.01 (repeatable).", metavar="KEY=VALUE"),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for weights and sampling (default 0).")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where to compute.")]
ThreadsOpt = Annotated[
    int, typer.Option("--threads", min=1, help="Torch intra-op threads; 1 is fastest for models this small.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (no tables).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
RunOpt = Annotated[Path | None, typer.Option("--run", help="Use a trained run directory instead of training now.")]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", help="0 = argmax; above 0 samples free-running predictions.")
]
TopKOpt = Annotated[int | None, typer.Option("--top-k", help="Sample only among the k most likely symbols.")]
TrainPoliciesOpt = Annotated[
    str | None,
    typer.Option(
        "--train",
        help="Train one model per training policy (comma-separated: teacher, free, zeros, scheduled) and show the "
        "policy matrix; the first policy's model gets the full report.",
        metavar="POLICIES",
    ),
]
RolloutsOpt = Annotated[
    int,
    typer.Option("--rollouts", min=1, max=100_000, help="Sample free-running N times (one batch); show the spread."),
]
InjectOpt = Annotated[
    str | None,
    typer.Option(
        "--inject",
        help="Steps at which a wrong symbol is forced into free-running (comma-separated; default 3,10,20, "
        "those past the sequence left out).",
        metavar="STEPS",
    ),
]


def _parse_policies(text: str) -> list[str]:
    """`teacher,zeros` -> distinct training policies in order; an unknown one is a user error listing the valid."""
    from seqdiag.config import TRAIN_POLICIES

    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    bad = [n for n in names if n not in TRAIN_POLICIES]
    if not names or bad:
        what = f"unknown policy {bad[0]!r}" if bad else "name at least one policy"
        raise SeqdiagError(f"--train {text!r}: {what}; valid: {', '.join(TRAIN_POLICIES)}")
    return names


def _parse_steps(text: str) -> list[int]:
    try:
        steps = [int(p) for p in text.split(",")]
    except ValueError:
        raise SeqdiagError(f"--inject {text!r}: expected steps like 3,10,20") from None
    if any(k < 1 for k in steps):
        raise SeqdiagError(f"--inject {text!r}: steps start at 1 (step 0 is fed the start symbol)")
    return sorted(set(steps))


def _injection_steps(text: str | None, length: int) -> list[int]:
    """The steps to inject at: the user's, each checked against the sequence, or the defaults that fit it."""
    if text is None:
        from seqdiag.recovery import DEFAULT_INJECT_AT

        return [k for k in DEFAULT_INJECT_AT if k < length] or [max(1, length - 1)]
    steps = _parse_steps(text)
    past = [k for k in steps if k > length - 1]
    if past:
        raise SeqdiagError(
            f"--inject {text!r}: step {past[0]} is past the last pattern step {length - 1} (sequence.length = {length})"
        )
    return steps


EXPORT_SUFFIXES = (".svg", ".html", ".txt")
ExportOpt = Annotated[
    Path | None,
    typer.Option(
        "--export",
        help="Also save exactly what the terminal shows, as SVG, HTML or text (by suffix), e.g. --export out.svg.",
        metavar="PATH.svg|.html|.txt",
    ),
]


def _check_export(export: Path | None, json_: bool) -> None:
    """Fail fast (before training) on an export path that cannot be written."""
    if export is None:
        return
    if json_:
        raise SeqdiagError("--export records the tables; it cannot be combined with --json (redirect stdout instead)")
    if export.suffix.lower() not in EXPORT_SUFFIXES:
        raise SeqdiagError(
            f"--export {str(export)!r}: unknown format {export.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(EXPORT_SUFFIXES)}"
        )
    if export.is_dir():
        raise SeqdiagError(f"--export {str(export)!r}: is a directory; give a file name ending in .svg, .html or .txt")
    blocking = next((p for p in export.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise SeqdiagError(f"--export {str(export)!r}: {blocking} is a file, not a folder")


def _print_report(render, report, export: Path | None, title: str) -> None:
    """Render a report on stdout and, with --export, save the same output to a file."""
    from seqdiag.render import save_recording, stderr_console, stdout_console

    console = stdout_console(record=export is not None)
    render(console, report)
    if export is not None:
        try:
            save_recording(console, export, title)
        except OSError as exc:
            raise SeqdiagError(f"--export {str(export)!r}: cannot write it ({exc.strerror or exc})") from None
        stderr_console().print(f"exported to {export}")


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def _user_errors(debug: bool) -> Iterator[None]:
    """Turn known failures into one line on stderr and an exit code; --debug shows the traceback instead."""
    try:
        yield
    except (SeqdiagError, RunFailure) as exc:
        if debug:
            raise
        _stderr().print(Text("error: ", style="bold red") + Text(str(exc)), soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        if debug:
            raise
        _stderr().print(Text("interrupted", style="yellow"))
        raise typer.Exit(code=130) from None


def _sample_overrides(sample: dict[str, Any] | None) -> list[str]:
    """--temperature/--top-k as `sample.key=value` overrides (the options not given are left out)."""
    return [f"sample.{k}={v}" for k, v in (sample or {}).items() if v is not None]


def _resolve_config(
    config: str | None, overrides: list[str] | None, seed: int | None, sample: dict[str, Any] | None = None
) -> Config:
    return load_config(config, [*(overrides or []), *_sample_overrides(sample)], seed)


def _prepare_torch(device: Device, threads: int) -> str:
    import torch

    from seqdiag.device import resolve_device

    torch.set_num_threads(threads)
    return resolve_device(device.value)


def _print_json(data: dict[str, Any]) -> None:
    """Every --json output opens with the schema_version of seqdiag/schema/seqdiag.schema.json, which documents it."""
    from seqdiag.schema import SCHEMA_VERSION

    data = {"schema_version": SCHEMA_VERSION, **data}
    clean, non_finite = _finite_or_null(data)
    if non_finite:
        _stderr().print(
            f"warning: {non_finite} values are NaN or infinite (the model's outputs overflowed); written as null",
            soft_wrap=True,
        )
    sys.stdout.write(json.dumps(clean, indent=2, allow_nan=False) + "\n")


def _finite_or_null(value: Any) -> tuple[Any, int]:
    """JSON has no NaN or infinity: write them as null, and count them so the user is told."""
    if isinstance(value, float):
        return (value, 0) if math.isfinite(value) else (None, 1)
    if isinstance(value, dict):
        pairs = [(k, *_finite_or_null(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, sum(n for _, _, n in pairs)
    if isinstance(value, list | tuple):
        items = [_finite_or_null(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def _train_now(config: Config, device: str, show_progress: bool, also_on_step=None, **options: Any):
    """Train with a progress bar on stderr; `also_on_step` (e.g. a TensorBoard logger) sees every step too."""
    from seqdiag.render import stderr_console, training_progress
    from seqdiag.train import train

    with training_progress(stderr_console(), config.train.steps, enabled=show_progress) as on_step:
        if also_on_step is not None:
            on_step = _both(on_step, also_on_step)
        return train(config, device=device, on_step=on_step, **options)


def _both(first, second):
    def on_step(progress) -> None:
        first(progress)
        second(progress)

    return on_step


def _train_and_save(
    config: Config, device: str, target: Path, force: bool, show_progress: bool, resume_from=None, also_on_step=None
):
    """Train (or resume), stopping cleanly on Ctrl-C, and save atomically; a numerical fault saves the last good
    state only where no run exists, so a failed train never clobbers one."""
    # Imported before the line below, which says training starts now: torch.optim imports torch._dynamo on
    # first use, which alone takes a second or two.
    import torch._dynamo  # noqa: F401

    import seqdiag.render
    import seqdiag.train  # noqa: F401
    from seqdiag.interrupt import stop_on_interrupt
    from seqdiag.rundir import save_run

    with stop_on_interrupt() as should_stop:
        start = resume_from.steps_done if resume_from is not None else 0
        _stderr().print(
            f"training steps {start}..{config.train.steps} → {target} (Ctrl-C stops after the current step)",
            soft_wrap=True,
        )
        try:
            result = _train_now(
                config, device, show_progress, also_on_step, should_stop=should_stop, resume_from=resume_from
            )
        except RunFailure as exc:
            if exc.partial is None:
                raise RunFailure(f"{exc}; nothing saved") from None
            if target.exists():
                raise RunFailure(f"{exc}; {target} left unchanged") from None
            save_run(exc.partial, target)  # type: ignore[arg-type]
            steps = exc.partial.steps_done  # type: ignore[attr-defined]
            saved = f"the last good state (after step {steps}) is saved in {target} marked stopped"
            raise RunFailure(f"{exc}; {saved}") from None
        save_run(result, target, force=force)
    return result


def _check_run_alone(run: Path | None, config: str | None, overrides: list[str] | None, seed: int | None) -> None:
    if run is not None and (config is not None or overrides or seed is not None):
        raise SeqdiagError("--run uses the run's own config; drop --config/--set/--seed or drop --run")


def _trained(
    run: Path | None, resolved: Config | None, device: str, sample: dict[str, Any] | None, show_progress: bool
):
    """A trained model: loaded from --run, or trained now from the resolved config. Returns (result, source)."""
    if run is not None:
        from seqdiag.config import apply_overrides, config_from_dict
        from seqdiag.rundir import load_run

        result = load_run(run, device)
        if _sample_overrides(sample):  # decoding options may still be chosen for a saved run, checked against it
            data = apply_overrides(result.config.to_dict(), _sample_overrides(sample))
            result.config = config_from_dict(data)
        return result, str(run)
    assert resolved is not None, "a config is resolved whenever no --run is given"
    return _train_now(resolved, device, show_progress), "trained now"


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
            "(pip install 'seqdiag\\[tensorboard]').",
            metavar="DIR",
        ),
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a model and save a run directory (config, weights, history, summary).

    Ctrl-C stops after the current step and saves the run marked interrupted (exit code 130); --resume DIR
    continues it exactly as if it had never stopped. Example: seqdiag train --config alternating --out runs/alt
    """
    with _user_errors(debug):
        from seqdiag.rundir import check_target, default_run_dir, load_run, summary_of

        previous = None
        if resume is not None:
            if config is not None or set_ or seed is not None or out is not None:
                raise SeqdiagError("--resume continues the run's own config in place; drop --config/--set/--seed/--out")
            dev = _prepare_torch(device, threads)
            previous = load_run(resume, dev)
            if previous.stopped:
                raise SeqdiagError(
                    f"{resume}: stopped by a numerical fault ({previous.stopped}); resuming would repeat it, "
                    "train again with a smaller train.lr"
                )
            if previous.steps_done >= previous.config.train.steps:
                raise SeqdiagError(f"{resume}: already complete ({previous.steps_done} steps); nothing to resume")
            resolved, target, force = previous.config, resume, True
        else:
            resolved = _resolve_config(config, set_, seed)
            target = out or default_run_dir(resolved)
            check_target(target, force)
            dev = _prepare_torch(device, threads)
        if tensorboard is not None:
            from seqdiag.sequence import ToySequence
            from seqdiag.tensorboard_log import TensorBoardLogger

            targets = ToySequence.from_config(resolved.sequence).target_text()
            with TensorBoardLogger(tensorboard, resolved, targets) as logger:
                result = _train_and_save(resolved, dev, target, force, not json_, previous, logger)
        else:
            result = _train_and_save(resolved, dev, target, force, not json_, previous)
        summary = summary_of(result)
        if json_:
            _print_json({"command": "train", "run": str(target), "config": resolved.to_dict(), **summary})
        else:
            from seqdiag.render import render_trained, stdout_console
            from seqdiag.report import RunInfo

            source = "resumed" if previous is not None else "trained now"
            info = RunInfo(resolved.seed, result.steps_done, result.interrupted, source)
            outputs, loss = summary["final_outputs"], summary["final_loss"]
            render_trained(stdout_console(), resolved, info, outputs, loss, target, result.seconds, result.losses[0])
        if result.interrupted:
            _stderr().print(
                Text(
                    f"interrupted after step {result.steps_done} of {resolved.train.steps}; saved {target} marked "
                    f"interrupted; continue with: seqdiag train --resume {target}",
                    style="yellow",
                ),
                soft_wrap=True,
            )
            raise typer.Exit(code=130)


@app.command()
def sample(
    mode: Annotated[Mode, typer.Option("--mode", "-m", help="Sampling procedure.")] = Mode.free,
    run: RunOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Generate with one sampling procedure and show every step (input fed, prediction, probabilities).

    Example: seqdiag sample --mode zeros --run runs/01-lstm-teacher-seed0
    """
    with _user_errors(debug):
        decoding_options = {"temperature": temperature, "top_k": top_k}
        _check_export(export, json_)
        _check_run_alone(run, config, set_, seed)
        # Resolved before importing torch, so a bad config fails fast.
        resolved = None if run is not None else _resolve_config(config, set_, seed, decoding_options)
        dev = _prepare_torch(device, threads)
        result, source = _trained(run, resolved, dev, decoding_options, show_progress=not json_)
        from seqdiag.policy import Decoding
        from seqdiag.report import build_sample

        decoding = Decoding(result.config.sample.temperature, result.config.sample.top_k)
        report = build_sample(result, source, mode.value, decoding)
        if json_:
            _print_json(report.to_json())
            return
        from seqdiag.render import render_sample

        _print_report(render_sample, report, export, f"seqdiag sample --mode {mode.value}")


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
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The main job: train (or load) a model, run every sampling procedure side by side, and explain the difference.

    With no options it reproduces the 2015 setup. Example: seqdiag compare --config pairs
    """
    with _user_errors(debug):
        decoding_options = {"temperature": temperature, "top_k": top_k}
        _check_export(export, json_)
        policies = _parse_policies(train_policies) if train_policies is not None else None
        if inject is not None:
            _parse_steps(inject)  # its syntax, before any training
        if policies and run is not None:
            raise SeqdiagError("--train trains every policy from a config; drop --run or drop --train")
        _check_run_alone(run, config, set_, seed)
        if policies:  # the first policy's model is the one diagnosed in full
            set_ = [*(set_ or []), f"train.policy={policies[0]}"]
        resolved = None
        if run is None:
            resolved = _resolve_config(config, set_, seed, decoding_options)
            _injection_steps(inject, resolved.sequence.length)
        if out is not None and out.exists():
            raise SeqdiagError(f"{out}: already exists; choose another --out")
        dev = _prepare_torch(device, threads)
        result, source = _trained(run, resolved, dev, decoding_options, show_progress=not json_)
        inject_at = _injection_steps(inject, result.config.sequence.length)
        if out is not None:
            from seqdiag.rundir import save_run

            save_run(result, out)
        from seqdiag.policy import Decoding
        from seqdiag.report import build_compare

        decoding = Decoding(result.config.sample.temperature, result.config.sample.top_k)
        matrix = None
        if policies:
            from seqdiag.matrix import build_matrix, policy_config

            results = {policies[0]: result}
            for policy in policies[1:]:
                results[policy] = _train_now(policy_config(result.config, policy), dev, show_progress=not json_)
            matrix = build_matrix(results, inject_at)
        report = build_compare(result, source, decoding, rollouts_n=rollouts, inject_at=inject_at, matrix=matrix)
        if json_:
            _print_json(report.to_json())
            return
        from seqdiag.render import render_compare

        _print_report(render_compare, report, export, "seqdiag compare")


class Executor(StrEnum):
    local = "local"
    ray = "ray"


DEFAULT_SWEEP_SEEDS = 64
SweepTrainOpt = Annotated[
    str | None,
    typer.Option(
        "--train",
        help="Training policies to compare (comma-separated: teacher, free, zeros, scheduled); each trains its own "
        "stack of the same seeds, and the policy x procedure matrix of rates is shown.",
        metavar="POLICIES",
    ),
]


def _sweep_now(config: Config, n_seeds: int, policies: list[str] | None, device: str, show_progress: bool):
    """Run a sweep with a progress bar on stderr, one line per training policy."""
    from seqdiag.render import stderr_console, training_progress
    from seqdiag.sweep import run_sweep

    console = stderr_console()

    def on_policy(policy: str, index: int, count: int) -> None:
        if show_progress:
            console.print(f"training {n_seeds} seeds under {policy} ({index + 1}/{count}) as one batched stack")

    with training_progress(console, config.train.steps, enabled=show_progress) as on_step:
        return run_sweep(config, n_seeds, policies, device, on_policy=on_policy, on_step=on_step)


def _grid_now(grid: Path, seeds, config, overrides, seed, policies, executor, address, device, threads, show):
    """Load a grid file, check every cell, then run the cells with the executor; a line per cell on stderr."""
    from seqdiag.grid import grid_cells, load_grid, run_grid

    spec = load_grid(grid)
    if policies is None and spec.train is not None:
        policies = _parse_policies(",".join(spec.train))
    cells = grid_cells(spec, config, overrides or [], seed)
    n_seeds = seeds or spec.seeds or DEFAULT_SWEEP_SEEDS
    if executor is Executor.local:
        device_name = _prepare_torch(device, threads)
    else:  # resolved on each Ray worker, which may have a GPU where this machine has none
        device_name = device.value
    console = _stderr()

    def on_cell(index: int, count: int, cell) -> None:
        if show:
            verb = "training" if executor is Executor.local else "done"
            console.print(f"cell {index + 1}/{count} {verb}: {cell.label} ({n_seeds} seeds)")

    return run_grid(
        cells,
        n_seeds,
        policies,
        device_name,
        source=spec.source,
        axes=spec.axes,
        executor=executor.value,
        address=address,
        threads=threads,
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
            help="Where grid cells run: local (here, one after another) or ray (pip install 'seqdiag\\[ray]').",
        ),
    ] = Executor.local,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", help="The Ray cluster for --executor ray (e.g. auto or HOST:PORT); default: start a local one."
        ),
    ] = None,
    device: DeviceOpt = Device.cpu,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train many seeds at once and show, per sampling procedure, how often it is right at the end (95% interval).

    One run says what happened; many seeds say whether it was luck. Example: seqdiag sweep --seeds 64 --train
    teacher,free
    """
    with _user_errors(debug):
        _check_export(export, json_)
        policies = _parse_policies(train_policies) if train_policies is not None else None
        if grid is None and (executor is not Executor.local or address is not None):
            raise SeqdiagError("--executor and --address fan out the cells of a grid; add --grid GRID.toml")
        if grid is not None:
            result = _grid_now(grid, seeds, config, set_, seed, policies, executor, address, device, threads, not json_)
            if json_:
                _print_json(result.to_json())
                return
            from seqdiag.render import render_grid

            _print_report(render_grid, result, export, "seqdiag sweep --grid")
            return
        resolved = _resolve_config(config, set_, seed)
        n_seeds = seeds or DEFAULT_SWEEP_SEEDS
        dev = _prepare_torch(device, threads)
        result = _sweep_now(resolved, n_seeds, policies, dev, show_progress=not json_)
        if json_:
            _print_json(result.to_json())
            return
        from seqdiag.render import render_sweep

        _print_report(render_sweep, result, export, "seqdiag sweep")


@app.command()
def presets(json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """List the presets shipped with seqdiag (the same files as configs/).

    Example: seqdiag presets, then seqdiag compare --config period3
    """
    with _user_errors(debug):
        from seqdiag.config import preset_summaries

        summaries = preset_summaries()
        if json_:
            _print_json({"command": "presets", "presets": [dataclasses.asdict(p) for p in summaries]})
            return
        from seqdiag.render import render_presets, stdout_console

        render_presets(stdout_console(), summaries)


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

    Needs matplotlib: pip install 'seqdiag\\[plot]'. Example: seqdiag plot runs/orig --out figures/orig
    """
    with _user_errors(debug):
        from seqdiag.plot import read_sweep, require_matplotlib

        require_matplotlib()
        target = out or Path("figures") / source.stem
        if source.is_file():
            from seqdiag.plot import plot_sweep

            result = plot_sweep(read_sweep(source), target, str(source))
        else:
            from seqdiag.plot import plot_run, run_curves
            from seqdiag.rundir import load_run

            dev = _prepare_torch(device, threads)
            run = load_run(source, dev)
            result = plot_run(run_curves(run, source.name), target, str(source))
        if json_:
            _print_json(result.to_json())
            return
        from seqdiag.render import render_plot, stdout_console

        render_plot(stdout_console(), result)


def main() -> None:
    app()
