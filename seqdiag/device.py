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
