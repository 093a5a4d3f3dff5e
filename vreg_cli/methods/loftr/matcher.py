"""Run a LoFTR model on grey uint8 images of any size; matches come back in the caller's pixels.

LoFTR needs sides that are multiples of 8: the image is cropped at the bottom/right by at most 7 px (no point moves,
so the mapping stays exact). ``size`` optionally runs LoFTR on a smaller copy (long side ``size``), mapped back with
the exact resize matrix (default: the model's ``train_size``, else the size of the images given).
``match_many`` matches one fixed image against several candidates and computes the fixed image's backbone features
once (``LoFTRModel.extract_features``; the backbone is the largest share of LoFTR's time).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vreg_cli.io import resize_long_side
from vreg_cli.limits import MAX_LOFTR_SIDE
from vreg_cli.methods.base import Matches

__all__ = ["LoFTRMatcher"]


class LoFTRMatcher:
    """Callable (fixed_gray (H, W) uint8, moving_gray (H', W') uint8) -> Matches, backed by a LoFTRModel.

    Safe to call from several threads: kornia's fine-matching module keeps per-call values on itself, so the model's
    forward passes run one at a time (each already uses every core, or the GPU).
    """

    def __init__(self, model: Any, size: int | None = None, batch: int = 1) -> None:
        self.model = model.eval()
        self.size = size
        self.batch = batch
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path, size: int | None = None, device: str = "auto") -> LoFTRMatcher:
        """Load the model from PATH, with the channels-last backbone (faster inference, same matches).

        ``size`` None: the long side the model was trained at (a vreg checkpoint's ``train_size``), else the images
        are matched at the size they are given (the working size).
        """
        from vreg_cli.model.loftr import load_model

        model = load_model(path, device=device).use_channels_last()
        return cls(model, size=size or model.config.train_size)

    def model_input(self, gray: np.ndarray) -> np.ndarray:
        """What the network sees for a grey (H, W) uint8 image: itself, or its vessel map (``config.input``).

        Call it on whole images (before crops), so that a vessel map's scales follow the image's resolution.
        """
        from vreg_cli.model.inputs import model_input

        return model_input(gray, getattr(getattr(self.model, "config", None), "input", "gray"))

    def scale_for(self, frame_hw: tuple[int, ...]) -> float:
        """The resize factor that brings a whole image of ``frame_hw`` to the matcher's long side (<= 1)."""
        return 1.0 if self.size is None else min(1.0, self.size / max(frame_hw[:2]))

    def _prepare(self, gray: np.ndarray, scale: float | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """(1, 1, H8, W8) float tensor and the 3x3 map from its pixels back to ``gray``'s pixels.

        ``scale``: resize by this factor (a crop of a larger frame keeps the frame's pixel size, which is what the
        network was trained at); None: bring ``gray``'s own long side down to ``size``.
        """
        back = np.eye(3)
        if scale is None and self.size is not None and max(gray.shape) > self.size:
            scale = self.size / max(gray.shape)
        # LoFTR's coarse matching holds a (side / 8)**4 score matrix: never above MAX_LOFTR_SIDE (vreg_cli.limits)
        if max(gray.shape) * (scale or 1.0) > MAX_LOFTR_SIDE:
            scale = MAX_LOFTR_SIDE / max(gray.shape)
        if scale is not None and scale < 1.0:
            gray, s = resize_long_side(gray, max(8, round(max(gray.shape) * scale)))
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

    def __call__(self, fixed_gray: np.ndarray, moving_gray: np.ndarray, scale: float | None = None) -> Matches:
        t0, back0 = self._prepare(fixed_gray, scale)
        t1, back1 = self._prepare(moving_gray, scale)
        with self._lock:
            out = self.model.match(t0, t1)
        return self._to_matches(out, back0, back1)

    def match_many(
        self, fixed_gray: np.ndarray, movings: list[np.ndarray], scale: float | None = None
    ) -> list[Matches]:
        """Match FIXED against each of ``movings``; the fixed backbone pass runs once.

        Candidates of one size go through LoFTR ``batch`` at a time, candidates of mixed sizes one by one.
        """
        t0, back0 = self._prepare(fixed_gray, scale)
        prepared = [self._prepare(m, scale) for m in movings]
        batch = self.batch if len({t1.shape for t1, _ in prepared}) <= 1 else 1
        results: list[Matches] = []
        with self._lock:
            features0 = self.model.extract_features(t0)
            for start in range(0, len(prepared), batch):
                chunk = prepared[start : start + batch]
                t1 = torch.cat([t for t, _ in chunk])
                out = self.model.match(t0.expand(len(chunk), -1, -1, -1), t1, features0=features0)
                results += [self._to_matches(out, back0, back1, b) for b, (_, back1) in enumerate(chunk)]
        return results
