"""The command line: parse options, call one core function, hand the result to the renderer.

One module per command (`train`, `sample`, `compare`, `sweep`, `presets`, `plot`, `check`, `explain`); this one holds
the app, the options and the parsing and output helpers they share, and `main`; `errors` maps failures to one line
and an exit code. What a command does
is a core call (`seqdiag.comparison`, `seqdiag.resume`, `seqdiag.session`, ...) that tells the CLI's observer
(`seqdiag.render.progress.StderrObserver`) what it does. Torch is imported inside the commands, so `seqdiag --help`
and config errors answer at once; Rich is never imported here (the rendering layer, `seqdiag.render`, draws everything).
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqdiag import procedures
from seqdiag.cli.errors import OneLineErrors, user_errors
from seqdiag.config import TRAIN_POLICIES, Config, load_config
from seqdiag.errors import OutputClosed, SeqdiagError
from seqdiag.render.messages import print_info

app = typer.Typer(
    cls=OneLineErrors,
    name="seqdiag",
    help="Why does a sequence model that trains fine generate the wrong thing? Train a toy LSTM and compare its "
    f"sampling procedures side by side: {'; '.join(f'{p.name} ({p.label})' for p in procedures.REGISTRY.values())}.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _show_version(value: bool) -> None:
    if value:
        from seqdiag import __version__

        typer.echo(f"seqdiag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show seqdiag's version and exit."),
    ] = False,
) -> None:
    """Why does a sequence model that trains fine generate the wrong thing? (The app's help lists the procedures
    from their registry.)"""


# `sample --mode`: the choices are the registered sampling procedures (the option keeps its historical name).
if TYPE_CHECKING:

    class Mode(StrEnum):
        """One member per name in `seqdiag.procedures.NAMES`."""

else:
    Mode = StrEnum("Mode", {name: name for name in procedures.NAMES})


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


class Engine(StrEnum):
    auto = "auto"
    torch = "torch"
    numba = "numba"


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
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="Torch intra-op threads, and the numba kernel's (default 1, the fastest for models this small; at most "
        "the CPUs available). Recorded in the run: results depend on it.",
    ),
]


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="What computes training and snapshots: numba (the compiled CPU kernel; pip install numba), "
        "torch (any device; the reference), or auto: numba where installed and it covers the config, else torch.",
    ),
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
        help=f"Train one model per training policy (comma-separated: {', '.join(TRAIN_POLICIES)}) and show the "
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


def parse_policies(text: str) -> list[str]:
    """`teacher,zeros` -> distinct training policies in order; an unknown one is a user error listing the valid."""
    from seqdiag.config import TRAIN_POLICIES

    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    bad = [n for n in names if n not in TRAIN_POLICIES]
    if not names or bad:
        what = f"unknown policy {bad[0]!r}" if bad else "name at least one policy"
        raise SeqdiagError(f"--train {text!r}: {what}; valid: {', '.join(TRAIN_POLICIES)}")
    return names


def parse_steps(text: str) -> list[int]:
    try:
        steps = [int(p) for p in text.split(",")]
    except ValueError:
        raise SeqdiagError(f"--inject {text!r}: expected steps like 3,10,20") from None
    if any(k < 1 for k in steps):
        raise SeqdiagError(f"--inject {text!r}: steps start at 1 (step 0 is fed the start symbol)")
    return sorted(set(steps))


EXPORT_SUFFIXES = (".svg", ".html", ".txt")


ExportOpt = Annotated[
    Path | None,
    typer.Option(
        "--export",
        help="Also save exactly what the terminal shows, as SVG, HTML or text (by suffix), e.g. --export out.svg.",
        metavar="PATH.svg|.html|.txt",
    ),
]


def check_export(export: Path | None, json_: bool) -> None:
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


def print_report(render, report, export: Path | None, title: str) -> None:
    """Render a report on stdout and, with --export, save the same output to a file."""
    from seqdiag.render.common import save_recording, stdout_console

    console = stdout_console(record=export is not None)
    render(console, report)
    if export is not None:
        try:
            save_recording(console, export, title)
        except OSError as exc:
            raise SeqdiagError(f"--export {str(export)!r}: cannot write it ({exc.strerror or exc})") from None
        print_info(f"exported to {export}")


SAMPLE_OPTIONS = {"temperature": "--temperature", "top_k": "--top-k"}  # sample.KEY: the option that sets it


def sample_overrides(sample: dict[str, Any] | None) -> list[str]:
    """--temperature/--top-k as `sample.key=value` overrides (the options not given are left out)."""
    return [f"sample.{k}={v}" for k, v in (sample or {}).items() if v is not None]


def resolve_config(
    config: str | None, overrides: list[str] | None, seed: int | None, sample: dict[str, Any] | None = None
) -> Config:
    given = {f"sample.{k}": SAMPLE_OPTIONS[k] for k, v in (sample or {}).items() if v is not None}
    return load_config(config, [*(overrides or []), *sample_overrides(sample)], seed, given)


def prepare_torch(device: Device, threads: int | None) -> str:
    """Set torch's threads (checked against the CPUs available; default 1) and resolve the device."""
    from seqdiag.device import check_threads

    threads = check_threads(1 if threads is None else threads)  # before importing torch: a bad value fails fast
    import torch

    from seqdiag.device import resolve_device

    torch.set_num_threads(threads)
    return resolve_device(device.value)


def print_json(data: dict[str, Any]) -> None:
    """Every --json output opens with the schema_version of seqdiag/schema/seqdiag.schema.json, which documents it."""
    from seqdiag.schema import SCHEMA_VERSION

    data = {"schema_version": SCHEMA_VERSION, **data}
    clean, non_finite = finite_or_null(data)
    if non_finite:
        print_info(
            f"warning: {non_finite} values are NaN or infinite (the model's outputs overflowed); written as null"
        )
    try:
        sys.stdout.write(json.dumps(clean, indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed from None


def finite_or_null(value: Any) -> tuple[Any, int]:
    """JSON has no NaN or infinity: write them as null, and count them so the user is told."""
    if isinstance(value, float):
        return (value, 0) if math.isfinite(value) else (None, 1)
    if isinstance(value, dict):
        pairs = [(k, *finite_or_null(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, sum(n for _, _, n in pairs)
    if isinstance(value, list | tuple):
        items = [finite_or_null(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def check_run_alone(run: Path | None, config: str | None, overrides: list[str] | None, seed: int | None) -> None:
    if run is not None and (config is not None or overrides or seed is not None):
        raise SeqdiagError("--run uses the run's own config; drop --config/--set/--seed or drop --run")


def main() -> None:
    app()


# The commands register themselves on `app` when imported; they import the names above, hence last (and by name,
# since a module named like a parameter would shadow it here).
for _command in ("train", "sample", "compare", "sweep", "presets", "plot", "check", "explain"):
    importlib.import_module(f"seqdiag.cli.{_command}")

__all__ = ["OneLineErrors", "app", "main", "user_errors"]
