"""Run a LoFTR model on grey uint8 images of any size; matches come back in the caller's pixels.

LoFTR needs sides that are multiples of 8: the image is cropped at the bottom/right by at most 7 px (no point moves,
so the mapping stays exact). ``size`` optionally runs LoFTR on a smaller copy (long side ``size``), mapped back with
the exact resize matrix (``vreg register`` defaults to 480; scripts/bench_register.py measures what 640 costs).
``match_many`` matches one fixed image against several candidates of the same size and computes the fixed image's
backbone features once (the backbone is the largest share of LoFTR's time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vreg_cli.io import resize_long_side
from vreg_cli.methods.base import Matches


class _ReuseFixedBackbone(nn.Module):
    """Wraps a backbone: images equal to ``fixed`` get the cached features instead of a new pass."""

    def __init__(self, backbone: nn.Module, fixed: torch.Tensor) -> None:
        super().__init__()
        self.backbone = backbone
        self.fixed = fixed
        with torch.no_grad():
            self.cache = backbone(fixed)  # (coarse (1, C, h, w), fine (1, C', h', w'))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        same = torch.tensor([torch.equal(img, self.fixed[0]) for img in images])
        fresh = self.backbone(images[~same]) if (~same).any() else None
        outs = []
        for level in range(2):
            cached = self.cache[level].expand(len(images), -1, -1, -1)
            if fresh is None:
                outs.append(cached.contiguous())
                continue
            out = fresh[level].new_empty((len(images), *fresh[level].shape[1:]))
            out[same], out[~same] = cached[same], fresh[level]
            outs.append(out)
        return outs[0], outs[1]


class LoFTRMatcher:
    """Callable (fixed_gray (H, W) uint8, moving_gray (H', W') uint8) -> Matches, backed by a LoFTRModel."""

    def __init__(self, model: Any, size: int | None = None, batch: int = 1) -> None:
        self.model = model.eval()
        # Inference only: channels-last convolutions measured 25-35% faster on this CPU (oneDNN), same results.
        self.model.backbone.to(memory_format=torch.channels_last)
        self.size = size
        self.batch = batch

    @classmethod
    def from_file(cls, path: str | Path, size: int | None = None, device: str = "cpu") -> LoFTRMatcher:
        from vreg_cli.model.loftr import load_model

        return cls(load_model(path, device=device), size=size)

    def _prepare(self, gray: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """(1, 1, H8, W8) float tensor and the 3x3 map from its pixels back to ``gray``'s pixels."""
        back = np.eye(3)
        if self.size is not None and max(gray.shape) > self.size:
            gray, s = resize_long_side(gray, self.size)
            back = np.linalg.inv(s)
        h8, w8 = gray.shape[0] // 8 * 8, gray.shape[1] // 8 * 8
        if h8 == 0 or w8 == 0:
            raise ValueError(f"image of {gray.shape[1]}x{gray.shape[0]} px is too small for LoFTR")
        tensor = torch.from_numpy(np.ascontiguousarray(gray[:h8, :w8])).float().div_(255.0)
        return tensor[None, None], back

    def _to_matches(self, out: dict[str, Any], back0: np.ndarray, back1: np.ndarray, b: int = 0) -> Matches:
        keep = (out["batch_indexes"] == b).cpu().numpy()
        kp0 = out["keypoints0"].cpu().numpy().astype(np.float64)[keep]
        kp1 = out["keypoints1"].cpu().numpy().astype(np.float64)[keep]
        conf = out["confidence"].cpu().numpy().astype(np.float64)[keep]
        return Matches(kp0, kp1, conf).mapped(back0, back1)

    def __call__(self, fixed_gray: np.ndarray, moving_gray: np.ndarray) -> Matches:
        t0, back0 = self._prepare(fixed_gray)
        t1, back1 = self._prepare(moving_gray)
        return self._to_matches(self.model.match(t0, t1), back0, back1)

    def match_many(self, fixed_gray: np.ndarray, movings: list[np.ndarray]) -> list[Matches]:
        """Match FIXED against each of ``movings`` (all the same size); the fixed backbone pass runs once."""
        t0, back0 = self._prepare(fixed_gray)
        prepared = [self._prepare(m) for m in movings]
        if len({p[0].shape for p in prepared} | {t0.shape}) != 1:
            return [self(fixed_gray, m) for m in movings]
        backbone = self.model.backbone
        results: list[Matches] = []
        try:
            self.model.backbone = _ReuseFixedBackbone(backbone, t0)
            for start in range(0, len(prepared), self.batch):
                chunk = prepared[start : start + self.batch]
                t1 = torch.cat([p[0] for p in chunk])
                out = self.model.match(t0.expand(len(chunk), -1, -1, -1), t1)
                results += [self._to_matches(out, back0, p[1], b) for b, p in enumerate(chunk)]
        finally:
            self.model.backbone = backbone
        return results
