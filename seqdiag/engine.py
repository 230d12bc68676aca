"""The engine: what computes a training step and the sampling procedures.

- torch: the model's own torch code (`seqdiag.model`, `seqdiag.fused`, autograd, torch's optimizers). Runs
  every cell, gate, policy and device; the reference the numba engine is tested against.
- numba: `seqdiag.kernel`, the whole training step (forward, backward through time, optimizer) and the
  sampling procedures compiled to machine code, without per-op dispatch. CPU only; covers the LSTM, GRU and
  plain RNN cells with hard_sigmoid or sigmoid gates, every training policy and optimizer. Needs numba
  (`pip install numba`; from a checkout `pip install -e '.[fast]'`).
- auto: numba where it is installed and covers the config (a cold kernel cache is compiled first, in the
  foreground), else torch (the reason is said once).

The compiled kernels are cached in a user cache directory (`kernel_cache_dir`), keyed by the numba version,
Python version and the kernel's source; a manifest of file digests, written after each compile, is checked
before numba is let near the files, and a cache that does not match it is deleted and rebuilt. Each cell's
kernels are compiled apart, when a run first needs that cell; the manifest lists which cell and float type
pairs are compiled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqdiag.config import CELL_BLOCKS
from seqdiag.errors import SeqdiagError

ENGINES = ("auto", "torch", "numba")
KERNEL_CELLS = ("lstm", "gru", "rnn")  # as seqdiag.kernel.CELLS (this module imports no numba)
KERNEL_GATES = ("hard_sigmoid", "sigmoid")
CACHE_ENV = "SEQDIAG_CACHE_DIR"
MANIFEST = "manifest.json"
# Models per block at most: wider blocks spread each loop's fixed cost over more models (measured on this
# 2-core machine, N = 1024, one thread: 16 -> 15k, 32 -> 26k, 64 -> 28k, 128 -> 31k, 256 -> 28k seed-steps/s).
BLOCK = 128


class KernelCacheError(SeqdiagError):
    """The kernel cache folder cannot be created or written (`auto` then falls back to torch)."""


@dataclass(frozen=True)
class EngineChoice:
    """The engine a run computes with, what was asked for, and why they differ (None when they do not)."""

    name: str  # "torch" or "numba"
    requested: str  # "auto", "torch" or "numba"
    reason: str | None = None

    def describe(self) -> str:
        if self.reason is None:
            return self.name
        return f"{self.name} ({self.reason})"


def numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def kernel_gap(cell: str, gate: str, device: str) -> str | None:
    """Why the numba kernel cannot run this config (None when it can)."""
    if not numba_installed():
        return "numba is not installed (pip install numba; from a checkout: pip install -e '.[fast]')"
    if device != "cpu":
        return f"the numba kernel runs on the CPU, not on --device {device}"
    if cell not in KERNEL_CELLS:
        return f"the numba kernel covers model.cell = {' or '.join(map(repr, KERNEL_CELLS))}, not {cell!r}"
    if gate not in KERNEL_GATES:
        return f"the numba kernel covers model.gate = {' or '.join(map(repr, KERNEL_GATES))}, not {gate!r}"
    return None


def task_gap(sequences: int, prompt: int) -> str | None:
    """Why the numba kernel cannot train this task (None when it can): it trains one sequence with no prompt."""
    if sequences > 1:
        return f"the numba kernel trains one sequence; this task has {sequences}"
    if prompt:
        return f"the numba kernel trains without a prompt; this task has sample.prompt = {prompt}"
    return None


def resolve_engine(name: str, cell: str, gate: str, device: str, sequences: int = 1, prompt: int = 0) -> EngineChoice:
    """Map an --engine choice to the engine that will compute.

    `auto` takes numba wherever it is installed and covers the config, cached kernels or not: a cold cache is
    compiled first, in the foreground (`prepare_kernels`, shown as a labelled step), so the first run computes
    with the same engine, and ends the same way, as every later one.

    Raises:
        SeqdiagError: an unknown engine, or `numba` asked for where numba is not installed.
    """
    if name not in ENGINES:
        raise SeqdiagError(f"--engine {name!r}: must be one of {', '.join(ENGINES)}")
    if name == "torch":
        return EngineChoice("torch", name)
    gap = kernel_gap(cell, gate, device) or (task_gap(sequences, prompt) if numba_installed() else None)
    if gap is None:
        return EngineChoice("numba", name)
    if name == "numba" and not numba_installed():
        raise SeqdiagError(f"--engine numba: {gap}")
    return EngineChoice("torch", name, f"fell back: {gap}")


# --- the kernel cache ---------------------------------------------------------------------------------------


def cache_root() -> Path:
    """$SEQDIAG_CACHE_DIR, else $XDG_CACHE_HOME/seqdiag, else ~/.cache/seqdiag (never the install's folder)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seqdiag"


def _kernel_source() -> Path:
    spec = importlib.util.find_spec("seqdiag.kernel")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def kernel_cache_dir() -> Path:
    """This kernel's folder in the cache: a new source, numba or Python gets a new folder (others are left alone:
    another install of seqdiag may be using them)."""
    import numba

    source = hashlib.sha256(_kernel_source().read_bytes()).hexdigest()[:16]
    tag = f"numba{numba.__version__}-py{sys.version_info.major}{sys.version_info.minor}-{source}"
    return cache_root() / "kernels" / tag


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST and not path.name.startswith(".")
    }


def check_cache(folder: Path) -> str | None:
    """Delete what of the cache folder its manifest does not vouch for; says what was wrong (None if nothing).

    Numba unpickles its cache files; a file changed since it was written (truncated, corrupted, replaced) or
    not written by this procedure is not trusted: the whole folder is removed and the kernels recompiled.
    """
    if not folder.exists():
        return None
    manifest = folder / MANIFEST
    try:
        listed = json.loads(manifest.read_text())["files"]
        assert isinstance(listed, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        listed = None
    found = _digests(folder)
    if listed is not None and found == listed:
        return None
    problem = "no manifest" if listed is None else "files differ from the manifest"
    shutil.rmtree(folder, ignore_errors=True)
    return f"kernel cache {folder} discarded ({problem}); recompiling"


_lock = threading.Lock()
_loaded: dict[str, Any] = {}


@dataclass(frozen=True)
class KernelStatus:
    """How the kernels were made ready: loaded from the cache or compiled, and how long it took."""

    folder: Path
    compiled: bool
    seconds: float
    note: str | None  # a discarded cache, said once


def _compiled_key(dtype: str, cell: str) -> str:
    """How the manifest lists the kernels of one cell and float type ("lstm/float32")."""
    return f"{cell}/{dtype}"


def _compiled(folder: Path) -> set[str]:
    """The cell and float type pairs the folder's manifest lists as compiled."""
    try:
        listed = json.loads((folder / MANIFEST).read_text()).get("compiled", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {str(key) for key in listed} if isinstance(listed, list) else set()


def kernels_cached(dtype: str = "float32", cell: str = "lstm") -> bool:
    """Whether `cell`'s kernels for `dtype` are in the cache (so preparing them is a load, not a compile)."""
    if not numba_installed():
        return False
    return _compiled_key(dtype, cell) in _compiled(kernel_cache_dir())


def _compile_lock(folder: Path):
    """An exclusive lock on the cache folder while its kernels are checked or compiled (one process at a time;
    a second waits, then loads what the first compiled). Returns the open lock file: close it to release."""
    import fcntl

    folder.parent.mkdir(parents=True, exist_ok=True)
    handle = open(folder.parent / f".{folder.name}.lock", "w")  # noqa: SIM115 - held until released
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except BaseException:
        handle.close()
        raise
    return handle


def _unwritable(folder: Path, error: OSError) -> KernelCacheError:
    return KernelCacheError(
        f"the kernel cache {folder} cannot be written ({error.strerror or error}); point ${CACHE_ENV} at a writable "
        "folder"
    )


def check_cache_writable() -> None:
    """Create the kernel cache's folders if need be, before a compile is announced.

    Raises:
        KernelCacheError: they cannot be created (as `prepare_kernels` would raise).
    """
    folder = kernel_cache_dir()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unwritable(folder, error) from None


def prepare_kernels(dtype: str = "float32", cell: str = "lstm") -> KernelStatus:
    """Load (or compile, once) `cell`'s kernels for `dtype` ("float32" or "float64"); returns how it went.

    Only that cell's kernels: another cell's are compiled when a run first needs them. Waits for a compile
    another process is running. Safe to call repeatedly; later calls return at once.

    Raises:
        KernelCacheError: the cache folder cannot be created or locked.
    """
    import time

    key = _compiled_key(dtype, cell)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        started = time.perf_counter()
        folder = kernel_cache_dir()
        try:
            lock = _compile_lock(folder)
        except OSError as error:
            raise _unwritable(folder, error) from None
        try:
            return _prepare_locked(folder, dtype, cell, started)
        finally:
            lock.close()


def _prepare_locked(folder: Path, dtype: str, cell: str, started: float) -> KernelStatus:
    import time

    from seqdiag.atomic import write_text_atomic

    note = check_cache(folder) if not _loaded else None
    kernel = _import_kernel(folder)
    misses_before = _misses(kernel)
    key = _compiled_key(dtype, cell)
    helper = _compile_aside(folder, dtype, cell, "predict") if key not in _compiled(folder) else None
    _warm(kernel, dtype, cell, ("train",) if helper is not None else ("train", "predict"))
    if helper is not None:
        helper.wait()
        _warm(kernel, dtype, cell, ("predict",))  # a load when the helper compiled it, else the compile itself
    compiled = _misses(kernel) > misses_before
    if compiled or key not in _compiled(folder):
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {"files": _digests(folder), "compiled": sorted(_compiled(folder) | {key})}
        write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    status = KernelStatus(folder, compiled, time.perf_counter() - started, note)
    _loaded[key] = status
    return status


def _compile_aside(folder: Path, dtype: str, cell: str, which: str):
    """Compile one kernel into the cache in a second process while this one compiles the other (numba compiles
    on one core); None where only one CPU is available. The caller holds the cache's lock, and checks what it
    loads afterwards as usual: if the helper fails, the caller compiles that kernel itself."""
    import subprocess

    if len(os.sched_getaffinity(0)) < 2:
        return None
    code = "import sys; from seqdiag.engine import _compile_in_helper; _compile_in_helper(*sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(folder), dtype, cell, which],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _compile_in_helper(folder: str, dtype: str, cell: str, which: str) -> None:
    """The second process of `_compile_aside`."""
    _warm(_import_kernel(Path(folder)), dtype, cell, (which,))


def _import_kernel(folder: Path):
    if "kernel" in _loaded:
        return _loaded["kernel"]
    import numba

    folder.mkdir(parents=True, exist_ok=True)
    # Read when the kernel module's functions are decorated (numba's config module has no type stubs).
    setattr(numba.config, "CACHE_DIR", str(folder))  # noqa: B010
    from seqdiag import kernel

    _loaded["kernel"] = kernel
    return kernel


def _dispatchers(kernel) -> list:
    return [kernel.train_block, kernel.predict_block]


def _misses(kernel) -> int:
    return sum(sum(d.stats.cache_misses.values()) for d in _dispatchers(kernel))


def _warm(kernel, dtype: str, cell: str, which: Sequence[str] = ("train", "predict")) -> None:
    """Call `cell`'s kernels named in `which` once on a tiny problem with the argument types real calls use:
    loads or compiles them (numba compiles `train_block` and `predict_block` once per cell, see `seqdiag.kernel`)."""
    import numpy as np

    stack = KernelStack.__new__(KernelStack)
    v, e, h, steps = 2, 1, 1, 2
    p = kernel_param_count(v, e, h, cell)
    float_type = np.dtype(dtype)
    theta = np.zeros((p, 1), float_type)
    stack.kernel = kernel
    stack.tag = kernel.cell_tag(cell)
    stack.dims = np.array([v, e, h, steps], np.int64)
    stack.theta, stack.prev = theta, theta.copy()
    stack.state1, stack.state2, stack.grads = theta.copy(), theta.copy(), theta.copy()
    stack.gate, stack.optimizer = 0, 0
    stack.hyper = np.array([1e-3, 0.9, 1e-6, 0.999], np.float64)
    stack.optimizer_steps, stack.threads, stack.n = 0, 1, 1
    inputs = np.zeros(steps, np.int64)
    if "train" in which:
        stack.train(1, kernel.POLICY_TEACHER, np.ones(1), inputs, inputs, None, want_grads=False)
    if "predict" in which:
        stack.predict(kernel.POLICY_TEACHER, kernel.STATE_CARRIED, inputs, steps)


def kernel_param_count(v: int, e: int, h: int, cell: str = "lstm") -> int:
    """P: the length of one model's flattened parameters (see `seqdiag.kernel`)."""
    g = CELL_BLOCKS[cell] * h
    return v * e + e + e * g + h * g + g + h * v + v


# --- a stack of models in the kernel's layout ----------------------------------------------------------------

POLICY_CODES = {"teacher": 0, "zeros": 1, "free": 2, "scheduled": 3}
STATE_CODES = {"carried": 0, "prefix": 1, "fresh": 2}
GATE_CODES = {"hard_sigmoid": 0, "sigmoid": 1}
OPTIMIZER_CODES = {"rmsprop": 0, "adam": 1, "sgd": 2}
ADAM_BETAS = (0.9, 0.999)  # torch's defaults, which make_optimizer uses


class KernelStack:
    """N models' parameters and optimizer state as (P, N) arrays (models innermost), and the kernel calls on them.

    Built from a `SequenceModel` (and optionally torch optimizer state); `write_back` copies the parameters
    into the model, `torch_optimizer_state` returns the state in torch's state_dict form, so run directories
    and resuming work the same for both engines.
    """

    def __init__(self, model, optimizer_name: str, lr: float, rho: float, eps: float, threads: int = 1) -> None:
        import numpy as np

        dtype = "float64" if str(model.embed_weight.dtype) == "torch.float64" else "float32"
        prepare_kernels(dtype, model.cell)
        self.kernel = _loaded["kernel"]
        self.tag = self.kernel.cell_tag(model.cell)
        self.n = model.n_models
        self.dims = np.array([model.vocab_size, model.config.embed_size, model.hidden_size, 0], np.int64)
        self.gate = GATE_CODES[model.config.gate]
        self.optimizer = OPTIMIZER_CODES[optimizer_name]
        rho_or_beta1 = ADAM_BETAS[0] if optimizer_name == "adam" else rho
        self.hyper = np.array([lr, rho_or_beta1, eps, ADAM_BETAS[1]], np.float64)
        self.threads = max(1, threads)
        self.theta = pack(list(model.parameters()))
        self.prev = self.theta.copy()
        self.state1 = np.zeros_like(self.theta)
        self.state2 = np.zeros_like(self.theta)
        self.grads = np.zeros_like(self.theta)
        self.optimizer_steps = 0
        self.model = model  # for the procedures the kernel does not implement (run by torch on written-back weights)
        self.params = list(model.parameters())

    # optimizer state <-> torch ----------------------------------------------------------------------------

    def load_torch_optimizer_state(self, params, state: dict) -> None:
        """Continue from a torch optimizer's state_dict (a resumed run, from either engine)."""
        per_param = state.get("state", {})
        names = {0: "square_avg", 1: "exp_avg"}.get(self.optimizer)
        steps = 0
        for slot, name in ((self.state1, names), (self.state2, "exp_avg_sq" if self.optimizer == 1 else None)):
            if name is None:
                continue
            tensors = [per_param[i][name] for i in range(len(params)) if i in per_param]
            if len(tensors) == len(params):
                slot[:] = pack(tensors)
        for i in range(len(params)):
            if i in per_param and "step" in per_param[i]:
                steps = int(float(per_param[i]["step"]))
        self.optimizer_steps = steps

    def torch_optimizer_state(self, params) -> dict:
        """The state as torch's optimizer state_dict holds it (param_groups are left to the config)."""
        import torch

        state: dict[int, dict[str, Any]] = {}
        if self.optimizer_steps > 0:
            firsts, seconds = unpack(self.state1, params), unpack(self.state2, params)
            for index, (first, second) in enumerate(zip(firsts, seconds, strict=True)):
                step = torch.tensor(float(self.optimizer_steps), dtype=torch.float32)
                if self.optimizer == OPTIMIZER_CODES["rmsprop"]:
                    state[index] = {"step": step, "square_avg": first}
                elif self.optimizer == OPTIMIZER_CODES["adam"]:
                    state[index] = {"step": step, "exp_avg": first, "exp_avg_sq": second}
                # torch's SGD without momentum keeps no state
        return {"state": state}

    def write_back(self, params, source=None) -> None:
        """Copy the kernel's parameters (or `source`, e.g. `prev`) into the model's tensors."""
        import torch

        with torch.no_grad():
            for param, value in zip(params, unpack(self.theta if source is None else source, params), strict=True):
                param.copy_(value)

    # kernel calls ------------------------------------------------------------------------------------------

    def _blocks(self) -> list[tuple[int, int]]:
        """Column ranges of at most BLOCK models, at least one per thread where there are enough models."""
        width = max(1, min(BLOCK, -(-self.n // self.threads)))
        return [(lo, min(lo + width, self.n)) for lo in range(0, self.n, width)]

    def _each_block(self, call: Callable[[int, int], int]) -> list[int]:
        blocks = self._blocks()
        if self.threads == 1 or len(blocks) == 1:
            return [call(lo, hi) for lo, hi in blocks]
        from concurrent.futures import ThreadPoolExecutor

        # The kernels release the GIL; each thread takes every threads-th block.
        def run(first: int) -> list[tuple[int, int]]:
            return [(i, call(*blocks[i])) for i in range(first, len(blocks), self.threads)]

        with ThreadPoolExecutor(self.threads) as pool:
            done = [pair for part in pool.map(run, range(min(self.threads, len(blocks)))) for pair in part]
        return [taken for _, taken in sorted(done)]

    def train(self, n_steps, policy, epsilons, inputs, targets, coins, want_grads: bool = False):
        """Take up to n_steps training steps; returns (steps taken by every model, losses (n_steps, N))."""
        import numpy as np

        dims = self.dims.copy()
        dims[3] = len(inputs)
        losses = np.zeros((n_steps, self.n), self.theta.dtype)
        # Coins and epsilons in float32, as torch draws and compares them (coin < epsilon in the coin's dtype).
        coins = np.zeros((0, 0, 0), np.float32) if coins is None else np.ascontiguousarray(coins, dtype=np.float32)
        eps = np.ascontiguousarray(epsilons, dtype=np.float32)
        kernel = self.kernel

        def call(lo: int, hi: int) -> int:
            return kernel.train_block(
                self.tag, self.theta, self.prev, self.state1, self.state2, self.grads, dims, self.gate, self.optimizer,
                self.hyper, self.optimizer_steps, policy, eps, inputs, targets, coins, n_steps, lo, hi, want_grads,
                losses,
            )  # fmt: skip

        taken = min(self._each_block(call))
        self.optimizer_steps += taken
        return taken, losses

    @staticmethod
    def runs(procedure) -> bool:
        """Whether the kernel runs this procedure (`seqdiag.procedures.Procedure`): its policy and state
        handling, decoded by argmax (snapshots always are)."""
        return procedure.policy in ("teacher", "zeros", "free") and procedure.state in STATE_CODES

    def run_procedure(self, procedure, inputs, n_out: int, hidden=None, logits=None):
        """predicted (N, n_out) symbols of `procedure` (argmax); see `predict`."""
        return self.predict(POLICY_CODES[procedure.policy], STATE_CODES[procedure.state], inputs, n_out, hidden, logits)

    def predict(self, policy: int, state: int, inputs, n_out: int, hidden=None, logits=None):
        """predicted (N, n_out) symbols of a sampling procedure (argmax): its input policy and state handling
        (`POLICY_CODES`, `STATE_CODES`); fills hidden/logits when given."""
        import numpy as np

        predicted = np.zeros((self.n, n_out), np.int64)
        dt = self.theta.dtype
        hidden = np.zeros((0, 0, 0), dt) if hidden is None else hidden
        logits = np.zeros((0, 0, 0), dt) if logits is None else logits
        dims = self.dims.copy()
        dims[3] = len(inputs)
        kernel = self.kernel

        def call(lo: int, hi: int) -> int:
            theta, tag = self.theta, self.tag
            return kernel.predict_block(
                tag, theta, dims, self.gate, policy, state, inputs, n_out, lo, hi, predicted, hidden, logits
            )

        self._each_block(call)
        return predicted

    def snapshot(self) -> tuple:
        return self.theta.copy(), self.prev.copy(), self.state1.copy(), self.state2.copy(), self.optimizer_steps

    def restore(self, saved: tuple) -> None:
        self.theta[:], self.prev[:], self.state1[:], self.state2[:] = saved[:4]
        self.optimizer_steps = saved[4]


def pack(tensors: Sequence[Any]):
    """Per-model tensors (N, ...) -> one C-contiguous (P, N) numpy array, models innermost."""
    import numpy as np
    import torch

    with torch.no_grad():
        flat = torch.cat([t.detach().reshape(t.shape[0], -1) for t in tensors], 1)  # (N, P)
    return np.ascontiguousarray(flat.cpu().numpy().T)


def unpack(array, like: Sequence[Any]) -> list:
    """(P, N) -> tensors shaped like `like` (each (N, ...)), new memory."""
    import torch

    out, start = [], 0
    flat = torch.from_numpy(array.T.copy())  # (N, P)
    for t in like:
        size = t[0].numel()
        out.append(flat[:, start : start + size].reshape(t.shape).to(t.dtype).clone())
        start += size
    return out
