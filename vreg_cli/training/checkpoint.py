"""Trainer checkpoints: the model helper's payload plus optimiser, scheduler, position and RNG states.

Files in RUN_DIR: ``last.ckpt`` (every ``ckpt_every`` steps, at the end, and on Ctrl-C), ``best.ckpt`` (best
validation success so far). Both are vreg checkpoints that ``register`` / ``benchmark`` load like any weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vreg_cli.errors import VregError
from vreg_cli.model.checkpoint import checkpoint_payload, is_vreg_checkpoint
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.paths import atomic_output

__all__ = ["BEST", "LAST", "load_trainer_state", "resume_path", "rng_state", "save_checkpoint", "set_rng_state"]


LAST, BEST = "last.ckpt", "best.ckpt"


def rng_state() -> dict[str, Any]:
    """This process's torch RNG states (CPU and, when present, every CUDA device)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    step: int,
    epoch: int,
    batch_in_epoch: int,
    rng: list[dict[str, Any]],
    train_config: dict[str, Any],
    metrics: dict[str, float],
) -> Path:
    """Write atomically: a crash mid-write never replaces the previous good file."""
    payload = checkpoint_payload(model)
    payload.update(
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        step=step,
        epoch=epoch,
        batch_in_epoch=batch_in_epoch,
        rng=rng,  # one entry per rank
        train_config=train_config,
        metrics=metrics,
    )
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return path


def resume_path(run_dir: str | Path) -> Path:
    """The checkpoint ``--resume RUN_DIR`` reads: RUN_DIR/last.ckpt, or the file itself when given one."""
    path = Path(run_dir)
    return path / LAST if path.is_dir() else path


def load_trainer_state(run_dir: str | Path) -> dict[str, Any]:
    """The contents of a run directory's ``last.ckpt``, checked to hold the trainer keys (for ``--resume``).

    Read by the one weights reader (:func:`vreg_cli.model.safe_load.read_checkpoint`: no code from the file runs).
    Its model (``model_config`` and ``model``) is checked and loaded by the one weights loader,
    ``load_model(resume_path(run_dir), contents=...)``.
    """
    path = resume_path(run_dir)
    if not path.is_file():
        raise VregError(f"{path}: no checkpoint to resume from (expected RUN_DIR/{LAST})")
    obj = read_checkpoint(path)
    if not is_vreg_checkpoint(obj):
        raise VregError(f"{path}: not a vreg training checkpoint (no 'format': 'vreg-loftr')")
    missing = [k for k in ("model", "model_config", "optimizer", "scheduler", "step", "train_config") if k not in obj]
    if missing:
        raise VregError(f"{path}: not a vreg training checkpoint (missing {', '.join(missing)})")
    kinds = (("step", int), ("optimizer", dict), ("scheduler", dict), ("train_config", dict))
    bad = [k for k, kind in kinds if not isinstance(obj[k], kind)]
    if bad:
        raise VregError(f"{path}: corrupt training checkpoint (malformed {', '.join(bad)})")
    return obj
