"""The user's file: import it (this runs the user's code, as pytest does) and check the names the protocol needs.

The protocol: `model` (a torch.nn.Module), `vocab` (a string or a list of strings; token id = index), `sequence`
(or `sequences`: what the model was trained on, prompt included), `generate(model, prompt, n)` (the user's sampler)
and optionally `forward(model, tokens)` (teacher-forced logits of a known sequence). Every problem is a
`SeqdiagError` naming the file and the culprit.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqdiag.errors import SeqdiagError

PROTOCOL = "model, vocab, sequence (or sequences), generate(model, prompt, n), optionally forward(model, tokens)"


@dataclass(frozen=True)
class UserFile:
    """What a user's file provides, checked."""

    path: Path
    model: Any  # torch.nn.Module
    vocab: list[str]
    sequences: list[list[int]]  # token ids, prompt included
    generate: Callable[..., Any]
    forward: Callable[..., Any] | None  # None: seqdiag calls model(tokens[None])


def _where(exc: BaseException, path: Path) -> str:
    """`line N` of the deepest frame in the user's file, or '' when the error did not come from it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    return f" (line {frames[-1].lineno})" if frames else ""


def describe_exception(exc: BaseException, path: Path) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + text if text else ''}{_where(exc, path)}"


def import_user_file(path: Path) -> Any:
    """Import `path` as a fresh module (its folder first on sys.path, so it can import its neighbours)."""
    if not path.exists():
        raise SeqdiagError(f"{path}: no such file")
    if path.is_dir() or path.suffix != ".py":
        raise SeqdiagError(f"{path}: expected a Python file (FILE.py) defining {PROTOCOL}")
    name = f"seqdiag_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SeqdiagError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise SeqdiagError(f"{path}: the file called exit({exc.code}) while being imported") from exc
    except Exception as exc:
        raise SeqdiagError(f"{path}: failed to import: {describe_exception(exc, path)}") from exc
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _vocab(value: Any, path: Path) -> list[str]:
    if isinstance(value, str):
        symbols = list(value)
    elif isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
        symbols = list(value)
    else:
        raise SeqdiagError(f"{path}: vocab must be a string or a list of strings, not {type(value).__name__}")
    if len(symbols) < 2:
        raise SeqdiagError(f"{path}: vocab has {len(symbols)} symbol(s); it needs at least 2")
    seen: set[str] = set()
    for s in symbols:
        if s in seen:
            raise SeqdiagError(f"{path}: vocab lists {s!r} twice; token id = index, so symbols must be distinct")
        seen.add(s)
    return symbols


def _ids(sequence: Any, vocab: list[str], path: Path, name: str) -> list[int]:
    if isinstance(sequence, str):
        symbols: list[Any] = list(sequence) if all(len(s) == 1 for s in vocab) else sequence.split()
    elif isinstance(sequence, list | tuple):
        symbols = list(sequence)
    else:
        raise SeqdiagError(f"{path}: {name} must be a string or a list of symbols, not {type(sequence).__name__}")
    index = {s: i for i, s in enumerate(vocab)}
    ids = []
    for t, s in enumerate(symbols):
        if s not in index:
            raise SeqdiagError(f"{path}: {name}[{t}] = {s!r} is not in vocab")
        ids.append(index[s])
    return ids


def load_user_file(path: Path) -> UserFile:
    """Import the user's file and check every name of the protocol."""
    import torch

    module = import_user_file(path)
    missing = [n for n in ("model", "vocab", "generate") if not hasattr(module, n)]
    if not hasattr(module, "sequence") and not hasattr(module, "sequences"):
        missing.append("sequence")
    if missing:
        raise SeqdiagError(f"{path}: defines no {missing[0]!r}; a file for seqdiag check defines {PROTOCOL}")
    model = module.model
    if not isinstance(model, torch.nn.Module):
        raise SeqdiagError(f"{path}: model must be a torch.nn.Module, not {type(model).__name__}")
    vocab = _vocab(module.vocab, path)
    if hasattr(module, "sequences"):
        raw = module.sequences
        if not isinstance(raw, list | tuple) or not raw:
            raise SeqdiagError(f"{path}: sequences must be a non-empty list of sequences")
        sequences = [_ids(s, vocab, path, f"sequences[{i}]") for i, s in enumerate(raw)]
    else:
        sequences = [_ids(module.sequence, vocab, path, "sequence")]
    for fn in ("generate", "forward"):
        if hasattr(module, fn) and not callable(getattr(module, fn)):
            raise SeqdiagError(f"{path}: {fn} must be a function, not {type(getattr(module, fn)).__name__}")
    return UserFile(
        path=path,
        model=model,
        vocab=vocab,
        sequences=sequences,
        generate=module.generate,
        forward=getattr(module, "forward", None),
    )
