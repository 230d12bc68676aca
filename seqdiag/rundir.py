"""The run directory: what `train` leaves behind and `sample`/`compare --run` read back.

    config.toml          the resolved config (reruns it exactly)
    weights.safetensors  the model's tensors (safetensors: plain data, loading it can never run code)
    history.jsonl        one snapshot a line: step, loss, every procedure's output and accuracy
    losses.json          the loss at every step
    summary.json         seqdiag and torch versions, steps done, whether it was interrupted, timings

A run directory appears whole or not at all: everything is written into a hidden sibling folder,
which is then renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seqdiag import __version__
from seqdiag.config import Config, config_from_dict
from seqdiag.errors import ConfigError, RunError
from seqdiag.history import Snapshot
from seqdiag.model import build_model
from seqdiag.sequence import ToySequence
from seqdiag.train import TrainResult

RUN_FORMAT = 1
FILES = ("config.toml", "weights.safetensors", "history.jsonl", "losses.json", "summary.json")


def default_run_dir(config: Config, root: Path = Path("runs")) -> Path:
    return root / f"{config.sequence.pattern}-{config.model.cell}-{config.train.policy}-seed{config.seed}"


def summary_of(result: TrainResult) -> dict[str, Any]:
    last = result.history[-1] if result.history else None
    return {
        "run_format": RUN_FORMAT,
        "seqdiag_version": __version__,
        "torch_version": torch.__version__,
        "seed": result.config.seed,
        "steps_done": result.steps_done,
        "steps_planned": result.config.train.steps,
        "interrupted": result.interrupted,
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
    if out.exists() and not force:
        raise RunError(f"{out}: already exists; pass --force to replace it or --out another folder")
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
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
        if out.exists():
            retired = out.parent / f".{out.name}.replaced-{os.getpid()}"
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable JSON: {exc}") from None


def load_run(path: Path, device: str = "cpu") -> TrainResult:
    """Read a run directory back into a TrainResult (the model in eval mode).

    Raises:
        RunError: naming the file that is missing, corrupted or of another shape.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    missing = [f for f in FILES if not (path / f).is_file()]
    if len(missing) == len(FILES):
        raise RunError(f"{path}: not a seqdiag run (none of {', '.join(FILES)})")
    if missing:
        raise RunError(f"{path}: incomplete run, missing {', '.join(missing)}")
    summary = _read_json(path / "summary.json")
    if not isinstance(summary, dict) or summary.get("run_format") != RUN_FORMAT:
        found = summary.get("run_format") if isinstance(summary, dict) else None
        raise RunError(f"{path / 'summary.json'}: run_format = {found!r}; this seqdiag reads {RUN_FORMAT}")
    try:
        data = tomllib.loads((path / "config.toml").read_text())
        config = config_from_dict(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise RunError(f"{path / 'config.toml'}: {exc}") from None
    except ConfigError as exc:
        raise RunError(f"{path / 'config.toml'}: {exc}") from None
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, [config.seed], device)
    try:
        tensors = load_file(str(path / "weights.safetensors"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path / 'weights.safetensors'}: not a readable safetensors file ({exc})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        diff = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        key = diff[0]
        raise RunError(
            f"{path / 'weights.safetensors'}: {key} has shape {found.get(key)}, the config needs {expected.get(key)}"
        )
    model.load_state_dict({k: v.to(device) for k, v in tensors.items()})
    model.eval()
    history = []
    for number, line in enumerate((path / "history.jsonl").read_text().splitlines(), 1):
        try:
            history.append(Snapshot(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise RunError(f"{path / 'history.jsonl'}: line {number} is not a snapshot ({exc})") from None
    losses = _read_json(path / "losses.json")
    if not isinstance(losses, list):
        raise RunError(f"{path / 'losses.json'}: expected a list of losses")
    return TrainResult(
        config=config,
        sequence=sequence,
        model=model,
        seeds=[config.seed],
        histories=[history],
        losses=[losses],
        steps_done=int(summary.get("steps_done", 0)),
        seconds=float(summary.get("seconds", 0.0)),
        interrupted=bool(summary.get("interrupted", False)),
    )
