"""The run directory: what `train` leaves behind and `sample`/`compare --run` read back.

    config.toml          the resolved config (reruns it exactly)
    weights.safetensors  the model's tensors (safetensors: plain data, loading it can never run code)
    history.jsonl        one snapshot a line: step, loss, every procedure's output and accuracy
    losses.json          the loss at every step
    summary.json         seqdiag and torch versions, seed, steps done, whether it was interrupted or stopped, timings
    resume.safetensors   the optimizer's state and the generators' states, so `train --resume` continues exactly

A run directory appears whole or not at all: everything is written into a hidden sibling folder,
which is then renamed into place. Nothing in it is ever unpickled: tensors load through safetensors,
the config is TOML data, the rest is JSON; a pickled file found in it makes the whole run refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from seqdiag import __version__
from seqdiag.config import Config, config_from_dict
from seqdiag.errors import ConfigError, RunError
from seqdiag.history import Snapshot
from seqdiag.model import build_model
from seqdiag.sequence import ToySequence
from seqdiag.train import TrainResult, make_optimizer

RUN_FORMAT = 2  # 2: resume.safetensors, summary `stopped`
FILES = ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "summary.json", "resume.safetensors")
# Formats that can carry pickles (which run code when loaded); seqdiag reads none of them and refuses a run holding one.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".npy", ".npz")
# The tensors each optimizer keeps per parameter (torch's state_dict names); hyperparameters come from the config.
OPTIMIZER_STATE = {"rmsprop": {"step", "square_avg"}, "adam": {"step", "exp_avg", "exp_avg_sq"}, "sgd": set()}


def default_run_dir(config: Config, root: Path = Path("runs")) -> Path:
    """runs/<pattern>-<cell>-<policy>-seed<seed>, the pattern's symbols kept only where safe in a file name."""
    pattern = re.sub(r"[^A-Za-z0-9]", "_", config.sequence.pattern)
    return root / f"{pattern}-{config.model.cell}-{config.train.policy}-seed{config.seed}"


def summary_of(result: TrainResult) -> dict[str, Any]:
    last = result.history[-1] if result.history else None
    return {
        "run_format": RUN_FORMAT,
        "seqdiag_version": __version__,
        "torch_version": torch.__version__,
        "engine": result.engine,
        "seed": result.config.seed,
        "steps_done": result.steps_done,
        "steps_planned": result.config.train.steps,
        "interrupted": result.interrupted,
        "stopped": result.stopped,
        "seconds": round(result.seconds, 3),
        "final_loss": last.loss if last else None,
        "final_outputs": last.outputs if last else {},
    }


def save_run(result: TrainResult, out: Path, force: bool = False) -> Path:
    """Write the run to `out` atomically; refuses to replace an existing `out` unless `force`.

    Raises:
        RunError: `out` exists (and not `force`) or is not a directory we may replace.
    """
    out = Path(out)
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    retired = out.parent / f".{out.name}.replaced-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        (staging / "config.toml").write_text(tomli_w.dumps(result.config.to_dict()))
        tensors = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
        save_file(tensors, str(staging / "weights.safetensors"), metadata={"seqdiag_version": __version__})
        with (staging / "history.jsonl").open("w") as fh:
            for snap in result.history:
                fh.write(json.dumps(asdict(snap)) + "\n")
        (staging / "losses.json").write_text(json.dumps(result.losses[0]))
        (staging / "summary.json").write_text(json.dumps(summary_of(result), indent=2) + "\n")
        metadata = {"seqdiag_version": __version__}
        save_file(_resume_tensors(result), str(staging / "resume.safetensors"), metadata=metadata)
        if out.exists():
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        if retired.exists() and not out.exists():  # interrupted between the two renames: put the old run back
            os.replace(retired, out)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def is_run(path: Path) -> bool:
    """Whether `path` looks like a seqdiag run directory (the kind `--force` may replace)."""
    return path.is_dir() and (path / "summary.json").is_file() and (path / "config.toml").is_file()


def check_target(out: Path, force: bool = False) -> None:
    """Refuse an --out we must not write: existing (without force), not a run, or under a file.

    Raises:
        RunError: naming the path and what to do instead.
    """
    if out.exists() or out.is_symlink():
        if not force:
            raise RunError(f"{out}: already exists; pass --force to replace it or --out another folder")
        if not out.is_dir():
            raise RunError(f"{out}: exists and is not a directory; --force replaces only a seqdiag run")
        if any(out.iterdir()) and not is_run(out):
            raise RunError(f"{out}: not a seqdiag run; --force replaces only a run directory, choose another --out")
        return
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunError(f"{out}: cannot be created, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"{out}: cannot be created, {parent} is not writable")


def _resume_tensors(result: TrainResult) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter tensors as `optimizer.<index>.<name>`, and `generator.<name>` states."""
    tensors: dict[str, torch.Tensor] = {}
    for index, values in result.optimizer_state.get("state", {}).items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
    for name, state in result.generator_states.items():
        tensors[f"generator.{name}"] = state.detach().cpu().contiguous()
    return tensors


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable JSON: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_summary(path: Path) -> dict[str, Any]:
    file = path / "summary.json"
    summary = _read_json(file)
    if not isinstance(summary, dict) or summary.get("run_format") != RUN_FORMAT:
        found = summary.get("run_format") if isinstance(summary, dict) else None
        version = summary.get("seqdiag_version") if isinstance(summary, dict) else None
        made_by = f" (written by seqdiag {version})" if isinstance(version, str) else ""
        raise RunError(f"{file}: run_format = {found!r}{made_by}; this seqdiag {__version__} reads {RUN_FORMAT}")
    checks = {
        "steps_done": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "interrupted": lambda v: isinstance(v, bool),
        "seconds": _is_number,
        "stopped": lambda v: v is None or isinstance(v, str),
    }
    for key, ok in checks.items():
        if key not in summary or not ok(summary[key]):
            raise RunError(f"{file}: {key} = {summary.get(key)!r} is missing or of the wrong type")
    return summary


def _read_config(path: Path) -> Config:
    file = path / "config.toml"
    try:
        return config_from_dict(tomllib.loads(file.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError) as exc:
        raise RunError(f"{file}: not readable TOML ({exc})") from None
    except ConfigError as exc:
        raise RunError(f"{file}: {exc}") from None


def _read_tensors(file: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
            return {k: handle.get_tensor(k) for k in handle.keys()}, metadata  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"{file}: not a readable safetensors file ({exc})") from None


def _check_tensors(file: Path, found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """The same names, shapes and dtypes as `expected`, and only finite values."""
    for key in sorted(expected.keys() | found.keys()):
        want, got = expected.get(key), found.get(key)
        if want is None:
            raise RunError(f"{file}: unexpected tensor {key!r}; this config has {', '.join(sorted(expected))}")
        if got is None:
            raise RunError(f"{file}: tensor {key!r} is missing")
        if tuple(got.shape) != tuple(want.shape):
            raise RunError(f"{file}: {key} has shape {tuple(got.shape)}, the config needs {tuple(want.shape)}")
        if got.dtype != want.dtype:
            raise RunError(f"{file}: {key} is {got.dtype}, expected {want.dtype}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise RunError(f"{file}: {key} holds NaN or infinite values")


def _read_resume(path: Path, config: Config, model: torch.nn.Module) -> tuple[dict, dict[str, torch.Tensor]]:
    """The optimizer state_dict (hyperparameters from the config) and the generator states."""
    file = path / "resume.safetensors"
    tensors, _ = _read_tensors(file)
    params = list(model.parameters())
    names = OPTIMIZER_STATE[config.train.optimizer]
    expected: dict[str, torch.Tensor] = {}
    if any(k.startswith("optimizer.") for k in tensors) or not names:
        for index, param in enumerate(params):
            for name in names:
                expected[f"optimizer.{index}.{name}"] = torch.zeros(()) if name == "step" else param.detach()
    generators = {"coins": torch.Generator().get_state(), "torch": torch.get_rng_state()}
    expected |= {f"generator.{name}": state for name, state in generators.items()}
    _check_tensors(file, tensors, expected)
    for name in generators:
        try:
            torch.Generator().set_state(tensors[f"generator.{name}"])
        except (RuntimeError, TypeError, ValueError):
            raise RunError(f"{file}: generator.{name} is not a generator state") from None
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, position, name = key.split(".", 2)
            state.setdefault(int(position), {})[name] = value
    param_groups = make_optimizer(params, config.train).state_dict()["param_groups"]
    optimizer_state = {"state": state, "param_groups": param_groups}
    return optimizer_state, {name: tensors[f"generator.{name}"] for name in generators}


def _read_history(path: Path, steps_done: int) -> list[Snapshot]:
    file = path / "history.jsonl"
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{file}: unreadable ({exc})") from None
    history: list[Snapshot] = []
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise RunError(f"{file}: line {number} is not a snapshot ({exc})") from None
        problem = None
        if not isinstance(data, dict) or set(data) != {"step", "loss", "outputs", "accuracy"}:
            problem = "expected the keys step, loss, outputs, accuracy"
        elif not isinstance(data["step"], int) or isinstance(data["step"], bool) or not 0 <= data["step"] <= steps_done:
            problem = f"step {data['step']!r} is not a step of this run (0..{steps_done})"
        elif history and data["step"] <= history[-1].step:
            problem = f"step {data['step']} does not follow step {history[-1].step}"
        elif not _is_number(data["loss"]):
            problem = f"loss {data['loss']!r} is not a finite number"
        elif not isinstance(data["outputs"], dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data["outputs"].items()
        ):
            problem = "outputs must map each procedure to a string"
        elif (
            not isinstance(data["accuracy"], dict)
            or set(data["accuracy"]) != set(data["outputs"])
            or not all(_is_number(v) for v in data["accuracy"].values())
        ):
            problem = "accuracy must map each procedure of outputs to a number"
        if problem is not None:
            raise RunError(f"{file}: line {number} is not a snapshot ({problem})")
        history.append(Snapshot(**data))
    return history


def _read_losses(path: Path, steps_done: int) -> list[float]:
    file = path / "losses.json"
    losses = _read_json(file)
    if not isinstance(losses, list) or not all(_is_number(v) for v in losses):
        raise RunError(f"{file}: expected a list of finite losses")
    if len(losses) != steps_done:
        raise RunError(f"{file}: {len(losses)} losses, but summary.json says {steps_done} steps were done")
    return [float(v) for v in losses]


def load_run(path: Path, device: str = "cpu") -> TrainResult:
    """Read a run directory back into a TrainResult (the model in eval mode), checking every file.

    Raises:
        RunError: naming the file that is missing, corrupted, of another shape or of another version.
    """
    path = Path(path)
    if path.is_file():
        raise RunError(f"{path}: is a file, not a run directory")
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    pickled = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickled:
        raise RunError(
            f"{path / pickled[0]}: a pickle-capable file in a run directory; seqdiag loads only safetensors and "
            "never unpickles (it can run code), so this run is refused; remove the file if you trust it"
        )
    missing = [f for f in FILES if not (path / f).is_file()]
    if len(missing) == len(FILES):
        raise RunError(f"{path}: not a seqdiag run (none of {', '.join(FILES)})")
    if missing:
        if "summary.json" not in missing:  # a run of another format lacks files for that reason: say so
            try:
                found = json.loads((path / "summary.json").read_text()).get("run_format")
            except (OSError, ValueError, AttributeError, RecursionError):
                found = None
            if found is not None:
                _read_summary(path)
        raise RunError(f"{path}: incomplete run, missing {', '.join(missing)}")
    summary = _read_summary(path)
    config = _read_config(path)
    steps_done = summary["steps_done"]
    if steps_done > config.train.steps:
        raise RunError(f"{path / 'summary.json'}: steps_done = {steps_done} exceeds train.steps = {config.train.steps}")
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, [config.seed], "cpu")
    tensors, _ = _read_tensors(path / "weights.safetensors")
    _check_tensors(path / "weights.safetensors", tensors, model.state_dict())
    model.load_state_dict(tensors)
    optimizer_state, generator_states = _read_resume(path, config, model)
    model.to(device)
    model.eval()
    return TrainResult(
        config=config,
        sequence=sequence,
        model=model,
        seeds=[config.seed],
        histories=[_read_history(path, steps_done)],
        losses=[_read_losses(path, steps_done)],
        steps_done=steps_done,
        seconds=float(summary["seconds"]),
        interrupted=summary["interrupted"],
        optimizer_state=optimizer_state,
        generator_states=generator_states,
        stopped=summary["stopped"],
        engine=summary["engine"] if summary.get("engine") in ("torch", "numba") else "torch",
    )
