"""Which torch device a model runs on: ``auto`` picks CUDA when present, else Apple MPS, else the CPU."""

from __future__ import annotations

import torch

from vreg_cli.errors import VregError

__all__ = ["resolve_device"]


_DEVICES: tuple[str, ...] = ("auto", "cuda", "mps", "cpu")


def resolve_device(name: str | torch.device, local_rank: int = 0, option: str = "--device") -> torch.device:
    """auto -> cuda, else mps, else cpu; ``cuda:1`` style names and torch devices pass through; an unavailable or
    unknown choice is a VregError (one line naming ``option``, the flag or method option the user typed)."""
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
            raise VregError(f"{option} cuda: no CUDA GPU visible to PyTorch (use cpu, or auto to pick what exists)")
        return torch.device("cuda", int(index) if index.isdigit() else local_rank)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise VregError(f"{option} mps: Apple MPS is not available (use cpu, or auto to pick what exists)")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise VregError(f"unknown {option} {name!r}; choose {', '.join(_DEVICES)}")
