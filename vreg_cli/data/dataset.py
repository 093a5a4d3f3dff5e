"""Training pairs from a prepared HDF5: fixed = CF (grey), moving = FA or OCT under a random affine.

Every item is drawn from its own generator seeded by (seed, epoch, index) (validation: (seed, index)), so an
item does not depend on the number of DataLoader workers, DDP ranks or on resuming: the run is reproducible.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from vreg_cli.data.augment import AugmentConfig, parse_pairs
from vreg_cli.data.h5 import VregH5
from vreg_cli.errors import VregError
from vreg_cli.geometry import affine_matrix, resize_image, warp_image
from vreg_cli.io import to_gray
from vreg_cli.model.inputs import model_input

__all__ = ["AugmentConfig", "PairDataset", "parse_pairs", "random_affine"]


def random_affine(rng: np.random.Generator, cfg: AugmentConfig, hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """A 3x3 map original -> augmented moving pixels about the image centre, and its rotation in degrees."""
    h, w = hw
    angle = float(rng.uniform(-cfg.max_rotation, cfg.max_rotation))
    lo, hi = cfg.scale_range
    scale = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    t = rng.uniform(-cfg.max_translation, cfg.max_translation, size=2) * np.array([w, h])
    shear = float(rng.uniform(-cfg.max_shear, cfg.max_shear)) if cfg.max_shear > 0 else 0.0
    flip = bool(rng.random() < cfg.flip_prob) if cfg.flip_prob > 0 else False
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    return affine_matrix(angle, scale, (float(t[0]), float(t[1])), shear, flip, centre), angle


def photometric(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Gamma, contrast about the mean and Gaussian noise on a float image in [0, 1]; returns [0, 1]."""
    out = img ** rng.uniform(*cfg.gamma_range)
    mean = out.mean()
    out = (out - mean) * rng.uniform(*cfg.contrast_range) + mean
    out = out + rng.normal(0.0, cfg.noise_std, size=out.shape)
    return np.clip(out, 0.0, 1.0)


def _fit(img: np.ndarray, hw: tuple[int, int], kind: str) -> np.ndarray:
    """Resize (H, W) to ``hw``, always by area: images as they are; vessel = any vessel pixel (area > 0); fov =
    majority (area >= 0.5)."""
    if img.shape[:2] == hw:
        return img
    if kind == "image":
        return resize_image(img, hw, interpolation=cv2.INTER_AREA)[0]
    area = resize_image(img.astype(np.float32), hw, interpolation=cv2.INTER_AREA)[0]
    return area > 0 if kind == "vessel" else area >= 0.5


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as uint8 (what the model input sees at inference)."""
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


class PairDataset(Dataset):
    """Items of one split: every sample once per pair kind (index = sample_position * n_pairs + pair).

    An item is a dict of tensors: "image0" (1, H, W) float fixed CF in [0, 1] (grey, or its vessel map with
    ``input_mode="vessels"``), "image1" (1, H, W) moving,
    "vessel0" / "vessel1" (H, W) bool, "fov0" / "fov1" (H, W) bool (moving ones warped), "moving_to_fixed"
    (3, 3) float32 (moving pixels -> fixed pixels), "rotation_deg" () float, "pair" () long (index into
    ``pairs``), "sample" () long (HDF5 row). H, W = ``image_size`` (square) or the file's size, floored to a
    multiple of 8 (LoFTR's coarse stride).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str | None = "train",
        pairs: tuple[str, ...] = ("cf-fa", "cf-oct"),
        augment: AugmentConfig | None = None,
        image_size: int | None = None,
        seed: int = 0,
        fixed_seed: bool = False,
        input_mode: str = "gray",
    ) -> None:
        self.h5 = VregH5(path)
        self.pairs = parse_pairs(pairs)
        missing = sorted({p.split("-")[1] for p in self.pairs} - set(self.h5.modalities))
        if missing:
            raise VregError(f"{self.h5.path}: no {', '.join(missing)} images for --modalities {','.join(self.pairs)}")
        self.rows = self.h5.indices(split)
        if len(self.rows) == 0:
            raise VregError(f"{self.h5.path}: split {split!r} is empty")
        self.augment = augment or AugmentConfig()
        h, w = (image_size, image_size) if image_size else self.h5.size
        self.hw = (h - h % 8, w - w % 8)
        if min(self.hw) < 32:
            raise VregError(f"image size {self.hw} too small for LoFTR (need >= 32 px per side)")
        self.seed, self.fixed_seed, self.epoch = seed, fixed_seed, 0
        self.input_mode = input_mode  # "gray" | "vessels" (model/inputs.py), applied after augmentation

    def set_epoch(self, epoch: int) -> None:
        """New random affines each epoch (training); validation items stay fixed."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows) * len(self.pairs)

    def rng(self, index: int) -> np.random.Generator:
        key = [self.seed, index] if self.fixed_seed else [self.seed, self.epoch, index]
        return np.random.default_rng(key)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = self.rng(index)
        row = int(self.rows[index // len(self.pairs)])
        pair_i = index % len(self.pairs)
        modality = self.pairs[pair_i].split("-")[1]
        hw = self.hw
        fixed = _fit(to_gray(self.h5.image(row, "cf")), hw, "image").astype(np.float32) / 255.0
        moving = _fit(self.h5.image(row, modality), hw, "image").astype(np.float32) / 255.0
        vessel = _fit(self.h5.mask(row, "vessel"), hw, "vessel")
        fov = _fit(self.h5.mask(row, "fov"), hw, "fov")

        aug, angle = random_affine(rng, self.augment, hw)  # original -> augmented moving pixels
        moving = warp_image(moving, aug, hw)
        vessel1 = warp_image(vessel.astype(np.float32), aug, hw) > 0  # any vessel pixel nearby, like pooling
        fov1 = warp_image(fov.astype(np.uint8), aug, hw, nearest=True) > 0
        if self.augment.photometric:
            fixed = photometric(fixed, rng, self.augment).astype(np.float32)
            moving = photometric(moving, rng, self.augment).astype(np.float32)
        if self.input_mode != "gray":
            fixed, moving = (
                model_input(_to_uint8(x), self.input_mode).astype(np.float32) / 255.0 for x in (fixed, moving)
            )
        return {
            "image0": torch.from_numpy(fixed)[None],
            "image1": torch.from_numpy(np.ascontiguousarray(moving, dtype=np.float32))[None],
            "vessel0": torch.from_numpy(vessel),
            "vessel1": torch.from_numpy(vessel1),
            "fov0": torch.from_numpy(fov),
            "fov1": torch.from_numpy(fov1),
            # the unaugmented moving image is pixel-aligned with the fixed one, so moving -> fixed = aug^-1
            "moving_to_fixed": torch.from_numpy(np.linalg.inv(aug)).float(),
            "rotation_deg": torch.tensor(angle, dtype=torch.float32),
            "pair": torch.tensor(pair_i),
            "sample": torch.tensor(row),
        }
