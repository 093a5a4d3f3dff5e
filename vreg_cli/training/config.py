"""TrainConfig: every knob of a training run, saved as RUN_DIR/config.json and inside each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from vreg_cli.config import dataclass_from_dict
from vreg_cli.data.augment import AugmentConfig, parse_pairs
from vreg_cli.errors import VregError
from vreg_cli.limits import SEED_RANGE, Range, check_fields
from vreg_cli.model.config import ARCHS, INPUTS, parse_freeze
from vreg_cli.model.loss_config import LossConfig

__all__ = ["REPORT_EXAMPLES", "TrainConfig"]


#: keys of older runs' config.json / train_config, dropped on loading: validation now fits with the registration
#: context and judges success with the benchmark's Thresholds (vreg_cli/training/validation.py)
_RETIRED_KEYS = ("success_px", "ransac_px")
#: validation pairs whose matches ``vreg report`` shows (``--examples``)
REPORT_EXAMPLES = 4


@dataclass
class TrainConfig:
    """A training run. Steps count optimiser steps (each ``grad_accum`` micro-batches)."""

    data: str = ""
    out: str = "runs/train"
    weights: str | None = None  # MINIMA / LoFTR release file or vreg checkpoint; None = random init
    pairs: tuple[str, ...] = ("cf-fa", "cf-oct")
    #: "default" | "none" | comma-separated module names; None = "default" with --weights, "none" from scratch
    freeze: str | None = None
    arch: str | None = None  # LoFTR preset (model/config.py ARCHS); None = the weights' own, else "minima"
    input: str | None = None  # "gray" | "vessels"; None = the weights' own, else "gray"
    # square side (multiple of 8); None = the HDF5's size. At least 64: the model's train_size, the size it matches at
    image_size: Annotated[int | None, Range(64, 2048)] = None
    batch_size: Annotated[int, Range(1, 1024)] = 2
    grad_accum: Annotated[int, Range(1, 1024)] = 1
    lr: Annotated[float, Range(0, 10, open_lo=True)] = 1e-4
    weight_decay: Annotated[float, Range(0, 10)] = 0.1  # LoFTR's AdamW decay
    warmup_steps: Annotated[int | None, Range(0, 10**9)] = None  # None = 5 % of the run
    min_lr_ratio: Annotated[float, Range(0, 1)] = 0.01  # cosine decays to lr * min_lr_ratio
    grad_clip: Annotated[float, Range(0, 1e6, open_lo=True)] = 0.5  # LoFTR's gradient clipping (max norm)
    max_steps: Annotated[int | None, Range(1, 10**9)] = None
    epochs: Annotated[int | None, Range(1, 10**6)] = None
    val_every: Annotated[int, Range(1, 10**9)] = 200
    ckpt_every: Annotated[int, Range(1, 10**9)] = 500
    log_every: Annotated[int, Range(1, 10**9)] = 10
    val_max_items: Annotated[int | None, Range(1, 10**7)] = 64  # validation items (fixed; None = the whole val split)
    device: str = "auto"  # auto | cuda | mps | cpu
    workers: Annotated[int, Range(0, 256)] = 2
    seed: Annotated[int, SEED_RANGE] = 0
    amp: bool = True  # bf16 autocast on CUDA (ignored elsewhere)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if isinstance(self.loss, dict):
            self.loss = LossConfig(**self.loss)
        self.augment.scale_range = cast(tuple[float, float], tuple(self.augment.scale_range))
        self.augment.gamma_range = cast(tuple[float, float], tuple(self.augment.gamma_range))
        self.augment.contrast_range = cast(tuple[float, float], tuple(self.augment.contrast_range))
        self.pairs = parse_pairs(self.pairs)
        for part in (self, self.augment, self.loss):  # each field's Range (vreg_cli.limits): no NaN, inf, absurd size
            try:
                check_fields(part)
            except ValueError as exc:
                name, _, problem = str(exc).partition(" ")
                raise VregError(f"--{name.replace('_', '-')} {problem}") from None
        if self.freeze is None:
            self.freeze = "default" if self.weights else "none"
        frozen = parse_freeze(self.freeze)  # a bad policy fails now, not after loading the data
        if not self.weights and "backbone" in frozen:
            raise VregError(
                f"--freeze {self.freeze} without --weights would freeze a randomly initialised backbone, which "
                "learns nothing: train from scratch with --freeze none, or pass --weights"
            )
        if self.arch is not None and self.arch not in ARCHS:
            raise VregError(f"unknown --arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.input is not None and self.input not in INPUTS:
            raise VregError(f"unknown --input {self.input!r}; choose one of {', '.join(INPUTS)}")
        if self.max_steps is None and self.epochs is None:
            raise VregError("give --max-steps or --epochs")
        for name in ("batch_size", "grad_accum", "val_every", "ckpt_every", "log_every"):
            if getattr(self, name) < 1:
                raise VregError(f"{name.replace('_', '-')} must be >= 1 (got {getattr(self, name)})")
        if self.max_steps is not None and self.max_steps < 1:
            raise VregError(f"--max-steps must be >= 1 (got {self.max_steps})")
        if self.image_size is not None and (self.image_size < 64 or self.image_size % 8):
            raise VregError(f"--image-size must be a multiple of 8 and >= 64 (got {self.image_size})")
        if self.lr <= 0:
            raise VregError(f"--lr must be > 0 (got {self.lr})")
        if self.loss.vessel_eps < 0:
            raise VregError(f"--vessel-eps must be >= 0 (got {self.loss.vessel_eps})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict; ``from_dict`` inverts it."""
        out = dataclasses.asdict(self)
        out["pairs"] = list(self.pairs)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config ``to_dict`` wrote (also an older run's: its _RETIRED_KEYS are dropped); unknown keys fail."""
        return dataclass_from_dict(cls, {k: v for k, v in data.items() if k not in _RETIRED_KEYS}, "training config")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)
