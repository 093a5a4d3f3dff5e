"""Which torch device a model runs on: ``auto`` picks CUDA when present, else Apple MPS, else the CPU."""

from __future__ import annotations

import torch

from retinareg.errors import VregError

DEVICES: tuple[str, ...] = ("auto", "cuda", "mps", "cpu")


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """auto -> cuda, else mps, else cpu; ``cuda:1`` style names and torch devices pass through; an unavailable
    explicit choice is a VregError (one line)."""
    if isinstance(name, torch.device):
        return name
    name, _, index = name.lower().partition(":")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise VregError("--device cuda: no CUDA GPU visible to PyTorch")
        return torch.device("cuda", int(index) if index.isdigit() else local_rank)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise VregError("--device mps: Apple MPS is not available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise VregError(f"unknown --device {name!r}; choose {', '.join(DEVICES)}")
