"""Building a run's pieces: model (weights, freeze policy), data loaders, optimiser and LR schedule."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from vreg_cli.data.dataset import AugmentConfig, PairDataset
from vreg_cli.data.h5 import VregH5
from vreg_cli.errors import VregError
from vreg_cli.limits import field_range
from vreg_cli.model.config import parse_freeze
from vreg_cli.model.loftr import LoFTRConfig, LoFTRModel, load_model
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.distributed import DistInfo, ResumableSampler
from vreg_cli.ui import console, warn

__all__ = [
    "build_model",
    "make_datasets",
    "make_loader",
    "make_optimizer",
    "make_val_loader",
    "total_steps",
    "train_size",
]


def build_model(
    cfg: TrainConfig, info: DistInfo, resume: Path | None = None, state: dict[str, Any] | None = None
) -> LoFTRModel:
    """LoFTRModel with the run's freeze policy; weights from ``cfg.weights``, or from ``resume`` when resuming.

    Without weights the model starts from random init (``cfg.arch``, MINIMA's architecture by default) and trains
    everything (TrainConfig refuses a frozen random backbone). With a vreg checkpoint as weights its own
    architecture and input are kept (``--input`` may change the input, for ablations). Resuming, the trainer
    checkpoint ``resume`` (its contents ``state``, already read by ``load_trainer_state``) gives config and weights.
    Both go through the one weights loader, :func:`vreg_cli.model.loftr.load_model`.
    """
    torch.manual_seed(cfg.seed)  # identical random init on every rank (DDP also broadcasts rank 0's)
    if resume is not None:
        return load_model(resume, contents=state)
    assert cfg.freeze is not None  # TrainConfig.__post_init__ sets the default policy
    changes: dict[str, Any] = {"freeze": parse_freeze(cfg.freeze), "train_size": train_size(cfg)}
    if cfg.input is not None:
        changes["input"] = cfg.input
    if cfg.weights:
        model = load_model(cfg.weights, arch=cfg.arch, **changes)
        if info.is_main:
            console.print(f"loaded {len(model.state_dict())} tensors from {cfg.weights} ({model.config.arch} LoFTR)")
        return model
    if info.is_main:
        console.print(f"no --weights: {cfg.arch or 'minima'} LoFTR from random init, every module trained")
    return LoFTRModel(LoFTRConfig.for_arch(cfg.arch or "minima", **changes))


def train_size(cfg: TrainConfig) -> int:
    """Long side of the training images: --image-size, else the HDF5's (floored to a multiple of 8), which must
    then be one --image-size allows (a larger file is resized with --image-size, not trained at its own size)."""
    if cfg.image_size:
        return cfg.image_size
    side = max(VregH5(cfg.data).size)
    largest = field_range(TrainConfig, "image_size").hi
    if side > largest:
        raise VregError(f"{cfg.data}: its images are {side} px; train at --image-size N (at most {largest:g})")
    return side - side % 8


def make_datasets(cfg: TrainConfig, info: DistInfo, input_mode: str = "gray") -> tuple[PairDataset, PairDataset | None]:
    """Training set (random affines per epoch) and validation set (fixed affine per item, no photometric).

    ``input_mode``: the model's input ("gray" | "vessels"), applied to both images of every item.
    """
    train_set = PairDataset(
        cfg.data, "train", cfg.pairs, cfg.augment, cfg.image_size, seed=cfg.seed, input_mode=input_mode
    )
    if len(VregH5(cfg.data).indices("val")) == 0:
        if info.is_main:
            warn(f"{cfg.data} has no validation split: no validation metrics and no best.ckpt")
        return train_set, None
    val_aug = AugmentConfig(**{**vars(cfg.augment), "photometric": False})
    val_set = PairDataset(
        cfg.data, "val", cfg.pairs, val_aug, cfg.image_size, seed=cfg.seed + 1, fixed_seed=True, input_mode=input_mode
    )
    return train_set, val_set


def make_loader(dataset: PairDataset, sampler, cfg: TrainConfig, device: torch.device) -> DataLoader:
    # A private generator: creating a loader iterator must not consume the global RNG (exact resume).
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


def make_val_loader(dataset: PairDataset, cfg: TrainConfig, device: torch.device) -> DataLoader:
    sampler = ResumableSampler(dataset, DistInfo(), cfg.seed, shuffle=False)
    return make_loader(dataset, sampler, cfg, device)


def total_steps(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """Optimiser steps of the run: --max-steps, else epochs x (batches per epoch / accumulation)."""
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, (cfg.epochs or 1) * batches_per_epoch // cfg.grad_accum)


def make_optimizer(model: LoFTRModel, cfg: TrainConfig, steps: int):
    """AdamW over trainable parameters only, linear warm-up then cosine decay to lr * min_lr_ratio."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else max(1, round(0.05 * steps))
    warmup = min(warmup, steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return optimizer, scheduler
