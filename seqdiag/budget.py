"""What a run will cost, estimated before it starts: memory against what the machine has, and time.

The estimates are deliberately simple formulas in the config's sizes, calibrated on CPU runs
(`benchmarks/budget.py` prints estimate against measurement). They exist to refuse a run that cannot fit in
memory, and to say how long a long one will take, before any of it is spent; they are not predictions to the
second. Every cost is linear in sequence.length (the refeed sampler too: see seqdiag.policy).
"""

from __future__ import annotations

from dataclasses import dataclass

from seqdiag.config import Config
from seqdiag.errors import SeqdiagError
from seqdiag.task import task_from_config

FLOAT = 4  # bytes: float32
WEIGHT_COPIES = 6  # weights, gradients, two optimizer moments, the last good copy, the snapshot being saved
ACTIVATION_FLOATS = 12  # per cell unit and time step, kept for backpropagation (gates, states, their gradients)
HISTORY_BYTES_PER_SYMBOL = 4  # the procedures' outputs kept per snapshot, as Python strings
BASE_BYTES = 600 * 2**20  # Python, torch and seqdiag themselves
# Time: a fixed cost per time step per training step (Python and kernel dispatch), plus the arithmetic.
SECONDS_PER_TIMESTEP = 70e-6  # measured: the default run, 5000 steps x 31 time steps, ~11 s on one thread
FLOPS_PER_SECOND = 2e9  # small batched matrix products on one CPU thread
SNAPSHOT_PASSES = 12  # a snapshot runs four procedures, about as costly as this many training time steps each
WARN_SECONDS = 600.0  # warn above ten minutes
WARN_SHARE = 0.5  # warn when the estimate takes more than half of the available memory


@dataclass(frozen=True)
class Estimate:
    """What training one stack of `seeds` models under `config` is expected to take."""

    bytes: int
    seconds: float


def parameters(config: Config) -> int:
    """Weights of one model (as seqdiag.model builds it)."""
    vocabulary = len(task_from_config(config.sequence).symbols)
    e, h = config.model.embed_size, config.model.hidden_size
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[config.model.cell] * h
    return vocabulary * e + e + e * gates + h * gates + gates + h * vocabulary + vocabulary


def estimate(config: Config, seeds: int = 1) -> Estimate:
    """Memory (bytes, peak) and time (seconds) of training `seeds` models of `config` as one stack."""
    task = task_from_config(config.sequence)
    # Every sequence of the task is a row of one batch, padded to the longest: cost as that many steps.
    steps_in_sequence = (max(len(b) for b in task.bodies) + 1) * len(task.bodies)
    h, e = config.model.hidden_size, config.model.embed_size
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[config.model.cell] * h
    weights = parameters(config) * seeds * FLOAT * WEIGHT_COPIES
    activations = steps_in_sequence * (gates + 4 * h + 2 * e) * ACTIVATION_FLOATS * FLOAT * seeds
    snapshots = config.train.steps // config.train.snapshot_every + 2
    history = snapshots * steps_in_sequence * 4 * HISTORY_BYTES_PER_SYMBOL * seeds
    flops_per_step = 6 * seeds * steps_in_sequence * parameters(config)  # forward and backward, 2 flops a weight
    per_step = steps_in_sequence * SECONDS_PER_TIMESTEP + flops_per_step / FLOPS_PER_SECOND
    snapshot_seconds = snapshots * SNAPSHOT_PASSES * per_step / 3
    seconds = config.train.steps * per_step + snapshot_seconds
    return Estimate(BASE_BYTES + weights + activations + history, seconds)


def available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable, bounded by a cgroup limit), or None where unknown."""
    found: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        found = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            found = int(text) if found is None else min(found, int(text))
    return found


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def check_budget(config: Config, seeds: int = 1, memory: int | None = None) -> list[str]:
    """Refuse a run whose memory estimate exceeds what the machine has; return warnings (a long run, or one
    that takes most of the memory), each with the estimate.

    Raises:
        SeqdiagError: the estimate exceeds the memory available (`memory`, default: measured now).
    """
    cost = estimate(config, seeds)
    memory = available_memory() if memory is None else memory
    stack = f"{seeds:,} seeds of " if seeds > 1 else ""
    what = (
        f"{stack}sequence.length = {config.sequence.length}, model.hidden_size = {config.model.hidden_size}, "
        f"train.steps = {config.train.steps}"
    )
    warnings = []
    if memory is not None and cost.bytes > memory:
        raise SeqdiagError(
            f"{what}: needs about {_size(cost.bytes)} of memory (estimate), but {_size(memory)} is available; "
            "use fewer seeds, a shorter sequence or a narrower model"
        )
    if memory is not None and cost.bytes > WARN_SHARE * memory:
        warnings.append(f"{what}: needs about {_size(cost.bytes)} of the {_size(memory)} of memory available")
    if cost.seconds > WARN_SECONDS:
        warnings.append(f"{what}: will take about {_duration(cost.seconds)} (estimate, one thread); Ctrl-C stops it")
    return warnings
