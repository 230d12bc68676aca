"""Grids: config overrides x seeds, each cell one batched sweep, run here or fanned out over a Ray cluster.

A grid file (GRID.toml) names the config keys to vary and the values to try; every combination is a cell,
and every cell is one `run_sweep` (all its seeds trained as one stack):

    # seqdiag sweep --grid configs/grids/example.toml
    [grid]                          # required: config key -> the values to try (a non-empty list)
    "model.hidden_size" = [5, 10]
    "train.lr" = [1e-3, 1e-2]

    [sweep]                         # optional: what every cell shares; command-line options win
    seeds = 32                      # seeds per cell (--seeds)
    seed = 0                        # the first seed (--seed)
    train = ["teacher", "free"]     # training policies per cell (--train)
    config = "original"             # base preset or TOML file (--config); relative to the grid file
    set = ["train.steps=2000"]      # overrides for every cell, applied before the cell's own (--set adds)

Keys are the `section.key` names `--set` takes; cells are the cartesian product in file order (the
last key varies fastest). Every cell is validated before anything trains, so a bad value fails at once.

Executors: `local` runs the cells one after another in this process; `ray` submits each cell as a Ray
task (one CPU each, or one GPU with --device cuda) to the cluster at `address`, or to a local instance
started for the run (`pip install -e '.[ray]'`). The job ships the seqdiag package with it, so the
cluster's workers need only torch; a Ray session the caller already joined is used as it is.
"""

from __future__ import annotations

import itertools
import logging
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from seqdiag.config import MAX_CONFIG_FILE_BYTES, Config, load_config, parse_override, shown
from seqdiag.errors import ConfigError, SeqdiagError
from seqdiag.sweep import SweepResult
from seqdiag.table import Column, Row, TableSpec

EXECUTORS = ("local", "ray")
SWEEP_KEYS = ("seeds", "seed", "train", "config", "set")
MAX_CELLS = 10_000


@dataclass(frozen=True)
class GridSpec:
    """A parsed grid file."""

    source: str
    axes: dict[str, list[Any]]  # config key -> values, in file order
    seeds: int | None = None
    seed: int | None = None
    train: list[str] | None = None
    config: str | None = None
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridCell:
    """One combination of the grid's values and the config it resolves to."""

    values: dict[str, Any]
    config: Config

    @property
    def label(self) -> str:
        return " ".join(f"{k}={_format(v)}" for k, v in self.values.items())


def _format(value: Any) -> str:
    """A TOML value as `--set` takes it (strings bare, as config.apply_overrides reads them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return repr(value)


def _fail(source: str, message: str) -> NoReturn:
    raise ConfigError(f"{source}: {message}")


def load_grid(path: str | Path) -> GridSpec:
    """Read and check a grid file.

    Raises:
        ConfigError: unreadable or malformed TOML, a missing or empty [grid], an unknown key, a value that
            is not a non-empty list, or a wrong type in [sweep]; naming the file and the key.
    """
    path = Path(path)
    source = str(path)
    if path.exists() and not path.is_file():
        raise ConfigError(f"--grid {source!r}: not a regular file; give a TOML file")
    try:
        if path.stat().st_size > MAX_CONFIG_FILE_BYTES:
            raise ConfigError(f"{source}: over the limit of {MAX_CONFIG_FILE_BYTES:,} bytes for a grid file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--grid {source!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer over 4300 digits
        raise ConfigError(f"{source}: malformed TOML: {shown(str(exc), 200)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: malformed TOML: nested too deeply") from None
    unknown = [k for k in data if k not in ("grid", "sweep")]
    if unknown:
        _fail(source, f"unknown table [{unknown[0]}]; a grid file has [grid] and optionally [sweep]")
    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        _fail(source, '[grid] is missing or empty; e.g. [grid] "train.lr" = [1e-3, 1e-2]')
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        try:
            parse_override(f"{key}=0")
        except ConfigError:
            _fail(source, f"[grid] {key!r}: unknown config key; use section.key as --set takes it")
        if not isinstance(values, list) or not values:
            _fail(source, f"[grid] {shown(key)} = {shown(values)}: expected a non-empty list of values")
        if any(isinstance(v, dict | list) for v in values):
            _fail(source, f"[grid] {key!r}: values must be plain numbers, strings or booleans")
        axes[key] = values
    sweep = data.get("sweep", {})
    if not isinstance(sweep, dict):
        _fail(source, "[sweep] must be a table")
    for key in sweep:
        if key not in SWEEP_KEYS:
            _fail(source, f"[sweep] {key!r}: unknown key; valid: {', '.join(SWEEP_KEYS)}")
    seeds, seed = sweep.get("seeds"), sweep.get("seed")
    for key, value in (("seeds", seeds), ("seed", seed)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            _fail(source, f"[sweep] {key} = {value!r}: expected a non-negative integer")
    if seeds is not None and seeds < 1:
        _fail(source, f"[sweep] seeds = {seeds}: must be >= 1")
    train = sweep.get("train")
    if train is not None and (not isinstance(train, list) or not all(isinstance(p, str) for p in train)):
        _fail(source, f"[sweep] train = {train!r}: expected a list of policy names")
    config = sweep.get("config")
    if config is not None:
        if not isinstance(config, str):
            _fail(source, f"[sweep] config = {config!r}: expected a preset name or a file path")
        relative = path.parent / config
        if relative.is_file():  # a file next to the grid; otherwise a preset name or a path from here
            config = str(relative)
    overrides = sweep.get("set", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        _fail(source, f'[sweep] set = {overrides!r}: expected a list of "section.key=value" strings')
    return GridSpec(source, axes, seeds, seed, train, config, tuple(overrides))


def grid_cells(
    spec: GridSpec, config: str | None = None, overrides: Sequence[str] = (), seed: int | None = None
) -> list[GridCell]:
    """Every cell's resolved config: base (config or the grid's), the grid's [sweep] set, `overrides`, the cell.

    Raises:
        ConfigError: a cell's value is invalid for its key (names the cell), or the grid is too large.
    """
    count = 1
    for choices in spec.axes.values():
        count *= len(choices)
    if count > MAX_CELLS:
        _fail(spec.source, f"{count} cells; at most {MAX_CELLS}")
    base = config if config is not None else spec.config
    seed = seed if seed is not None else spec.seed
    cells = []
    for combination in itertools.product(*spec.axes.values()):
        values = dict(zip(spec.axes, combination, strict=True))
        cell_overrides = [f"{k}={_format(v)}" for k, v in values.items()]
        try:
            resolved = load_config(base, [*spec.overrides, *overrides, *cell_overrides], seed)
        except ConfigError as exc:
            label = " ".join(cell_overrides)
            raise ConfigError(f"{spec.source}: cell {label}: {exc}") from None
        cells.append(GridCell(values, resolved))
    return cells


@dataclass(frozen=True)
class GridResult:
    """Every cell's sweep."""

    source: str
    axes: dict[str, list[Any]]
    cells: list[tuple[GridCell, SweepResult]]
    executor: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        first = self.cells[0][1]
        return {
            "command": "sweep-grid",
            "grid": self.source,
            "axes": self.axes,
            "executor": self.executor,
            "seeds": len(first.seeds),
            "seconds": round(self.seconds, 3),
            "cells": [{"values": cell.values, **result.to_json()} for cell, result in self.cells],
        }

    def table(self) -> TableSpec:
        """One row per cell and training policy: the axes' values, then the rate of every procedure with its
        interval (numbers that wrap between each other, never inside one)."""
        from seqdiag.sweep import rate_cell, rate_columns

        procedure_names = rate_columns(self.cells[0][1].rates)
        rows = [
            Row(
                (
                    *(str(cell.values.get(key, "")) for key in self.axes),
                    policy,
                    *(rate_cell(policy_sweep.rates[name]) for name in procedure_names),
                )
            )
            for cell, sweep in self.cells
            for policy, policy_sweep in sweep.policies.items()
        ]
        return TableSpec(
            title="Rates per cell: right/seeds share [Wilson 95% interval, %]",
            caption="right = pattern right at the last snapshot",
            columns=(
                *(Column(key, justify="right", style="strong") for key in self.axes),
                Column("train", keep=True),
                *(Column(name, justify="right", keep=False) for name in procedure_names),
            ),
            rows=tuple(rows),
        )


def run_cell(
    config: Config,
    n_seeds: int,
    train_policies: list[str] | None,
    device: str,
    threads: int = 1,
    engine: str = "auto",
):
    """One cell's sweep in this process: the unit of work an executor hands out (also a Ray task's body).

    The engine is resolved here, per cell (cells may differ in what the numba kernel covers) and where the cell
    runs; the numba kernels are made ready here too (a load from the cache, or the one-time compile)."""
    import torch

    from seqdiag.device import resolve_device
    from seqdiag.engine import KernelCacheError, prepare_kernels, resolve_engine
    from seqdiag.sweep import run_sweep
    from seqdiag.task import task_from_config

    torch.set_num_threads(threads)
    dev = resolve_device(device)
    task = task_from_config(config.sequence, config.sample.prompt)
    name = resolve_engine(engine, config.model.cell, config.model.gate, dev, len(task.bodies), task.prompt).name
    if name == "numba":
        try:
            prepare_kernels(cell=config.model.cell)
        except KernelCacheError:
            if engine == "numba":
                raise
            name = "torch"
    return run_sweep(config, n_seeds, train_policies, dev, engine=name, threads=threads)


def run_grid(
    cells: Sequence[GridCell],
    n_seeds: int,
    train_policies: list[str] | None = None,
    device: str = "cpu",
    *,
    source: str = "grid",
    axes: dict[str, list[Any]] | None = None,
    executor: str = "local",
    address: str | None = None,
    threads: int = 1,
    engine: str = "auto",
    on_cell: Callable[[int, int, GridCell], None] | None = None,
) -> GridResult:
    """Run every cell's sweep with the chosen executor; results come back in cell order.

    Args:
        cells: from `grid_cells`.
        n_seeds: seeds per cell.
        train_policies: training policies per cell (None: each cell's config's policy).
        device: cpu, cuda or auto, resolved where the cell runs (a Ray worker may differ from here).
        executor: local (one cell after another, here) or ray.
        address: the Ray cluster to join (e.g. "ray://head:10001" or "auto"); None starts a local one
            (unless this process already joined one, which is then used as is).
        on_cell: told (index, count, cell) as each cell starts (local) or finishes (ray).

    Raises:
        SeqdiagError: an unknown executor, or Ray asked for but not installed.
    """
    if executor not in EXECUTORS:
        raise SeqdiagError(f"--executor {executor!r}: must be one of {', '.join(EXECUTORS)}")
    if address is not None and executor != "ray":
        raise SeqdiagError("--address is the Ray cluster to use; it needs --executor ray")
    started = time.perf_counter()
    if executor == "local":
        results = []
        for index, cell in enumerate(cells):
            if on_cell is not None:
                on_cell(index, len(cells), cell)
            results.append(run_cell(cell.config, n_seeds, train_policies, device, threads, engine))
    else:
        results = _run_on_ray(cells, n_seeds, train_policies, device, address, threads, on_cell, engine)
    return GridResult(
        source, axes or {}, list(zip(cells, results, strict=True)), executor, time.perf_counter() - started
    )


def _run_on_ray(cells, n_seeds, train_policies, device, address, threads, on_cell, engine) -> list[SweepResult]:
    try:
        import ray
    except ImportError:
        raise SeqdiagError(
            "--executor ray needs Ray: pip install ray (from a checkout: pip install -e '.[ray]')"
        ) from None
    import seqdiag

    started_here = not ray.is_initialized()
    if started_here:
        try:
            # The package travels with the job, so workers need not have seqdiag installed (only torch).
            # A Ray session this process already joined is used as it is: its workers must import seqdiag.
            ray.init(
                address=address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
                runtime_env={"py_modules": [seqdiag]},
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local instance"
            raise SeqdiagError(f"--executor ray: cannot start or join {where}: {exc}") from None
    try:
        task = ray.remote(run_cell).options(num_cpus=threads, num_gpus=1 if device == "cuda" else 0, max_retries=0)
        refs = [task.remote(cell.config, n_seeds, train_policies, device, threads, engine) for cell in cells]
        index_of = {ref: i for i, ref in enumerate(refs)}
        results: list[SweepResult | None] = [None] * len(cells)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            i = index_of[done[0]]
            results[i] = _unwrap(ray, done[0])
            if on_cell is not None:
                on_cell(i, len(cells), cells[i])
        return [r for r in results if r is not None]
    finally:
        if started_here:
            ray.shutdown()


def _unwrap(ray, ref) -> SweepResult:
    """A task's result; a failure inside the task is re-raised as the error it was (e.g. RunFailure)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.as_instanceof_cause()
        original = getattr(exc, "cause", None)
        raise (original if isinstance(original, Exception) else cause) from None
