"""Which torch device a command computes on: cpu, cuda, or auto (cuda when available)."""

from __future__ import annotations

from seqdiag.errors import SeqdiagError

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> str:
    """Map a --device choice to a torch device string.

    Raises:
        SeqdiagError: an unknown name, or cuda asked for where no GPU is available.
    """
    import torch

    if name not in DEVICES:
        raise SeqdiagError(f"--device {name!r}: must be one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SeqdiagError("--device 'cuda': no CUDA device is available here; use --device cpu or auto")
    return name


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which a container or taskset narrows)."""
    import os

    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(threads: int) -> int:
    """A --threads value, bounded by the CPUs available (more would only contend, and huge counts crash
    OpenMP without a message).

    Raises:
        SeqdiagError: below 1, or above the CPUs available.
    """
    cpus = available_cpus()
    if threads < 1:
        raise SeqdiagError(f"--threads {threads}: must be at least 1")
    if threads > cpus:
        raise SeqdiagError(f"--threads {threads}: this machine has {cpus} CPUs available to seqdiag; at most {cpus}")
    return threads
