"""Register one pair: working size -> method.match -> MAGSAC++ -> plausibility -> transform in original pixels."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.estimate import MODELS, Plausibility, check_plausible, estimate_transform, linear_parts
from vreg_cli.geometry import AffineParts, warp_image
from vreg_cli.io import resize_long_side
from vreg_cli.methods.base import Matches, Method

CONVENTION = "moving (x, y, 1) -> fixed pixels, 0-based, x right, y down"
REFERENCE_SIZE = 640  # threshold_px is given at this working size and scaled with it


@dataclass(frozen=True)
class RegisterConfig:
    """How a pair is registered and judged.

    threshold_px: MAGSAC++ threshold in pixels at a 640 px working size (scaled with ``working_size``).
    scale_range: allowed moving -> fixed scale at the working size, i.e. the field-of-view ratio.
    max_rotation: largest trusted |rotation| in degrees (180 = any).
    """

    model: str = "affine"
    working_size: int = 640
    threshold_px: float = 3.0
    min_inliers: int = 12
    min_inlier_ratio: float = 0.05
    scale_range: tuple[float, float] = (0.4, 2.5)
    max_anisotropy: float = 1.5
    max_shear: float = 0.35
    max_rotation: float = 180.0
    max_perspective: float = 0.3
    allow_mirror: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.working_size < 64:
            raise ValueError("working_size must be at least 64 px")
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")

    @property
    def threshold_at_working_size(self) -> float:
        return self.threshold_px * self.working_size / REFERENCE_SIZE

    def plausibility(self) -> Plausibility:
        return Plausibility(
            scale_range=self.scale_range,
            max_anisotropy=self.max_anisotropy,
            max_shear=self.max_shear,
            allow_mirror=self.allow_mirror,
            max_rotation=self.max_rotation,
            max_perspective=self.max_perspective,
            min_inlier_ratio=self.min_inlier_ratio,
        )


@dataclass
class Registration:
    """One registration result. All coordinates are ORIGINAL image pixels.

    moving_to_fixed: (3, 3); matches: correspondences (N); inliers: (N,) bool; parts: rotation/scale of the
    working-size transform (the field-of-view scale, independent of the files' resolutions).
    """

    moving_to_fixed: np.ndarray
    model: str
    method: str
    matches: Matches
    inliers: np.ndarray
    seconds: float
    parts: AffineParts
    fixed_hw: tuple[int, int]
    moving_hw: tuple[int, int]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_inliers(self) -> int:
        return int(np.count_nonzero(self.inliers))

    @property
    def inlier_ratio(self) -> float:
        return self.n_inliers / max(len(self.matches), 1)

    def to_json(self) -> dict[str, Any]:
        """The documented transform file: exactly these keys."""
        return {
            "matrix": [[float(v) for v in row] for row in self.moving_to_fixed],
            "convention": CONVENTION,
            "model": self.model,
            "method": self.method,
            "matches": len(self.matches),
            "inliers": self.n_inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "rotation_deg": round(float(self.parts.rotation_deg), 3),
            "scale": round(float(self.parts.scale), 4),
            "seconds": round(self.seconds, 3),
        }

    def warp(self, moving: np.ndarray) -> np.ndarray:
        """The moving image resampled into the fixed frame (same height and width as FIXED)."""
        return warp_moving(moving, self.moving_to_fixed, self.fixed_hw)


def warp_moving(moving: np.ndarray, moving_to_fixed: np.ndarray, fixed_hw: tuple[int, int]) -> np.ndarray:
    """Resample ``moving`` (H', W'[, C]) into a (H, W[, C]) canvas with the fixed image's size."""
    return warp_image(moving, moving_to_fixed, (int(fixed_hw[0]), int(fixed_hw[1])))


def _match_at_working_size(
    fixed: np.ndarray, moving: np.ndarray, method: Method, working_size: int
) -> tuple[Matches, np.ndarray, np.ndarray, tuple[int, int]]:
    """Run ``method`` on both images resized to ``working_size``.

    Returns (matches in working pixels, S_fixed, S_moving, moving working (H, W)); S maps original -> working pixels.
    """
    fixed_w, s_f = resize_long_side(fixed, working_size)
    moving_w, s_m = resize_long_side(moving, working_size)
    return method.match(fixed_w, moving_w), s_f, s_m, moving_w.shape[:2]


def match_pair(fixed: np.ndarray, moving: np.ndarray, method: Method, working_size: int = 640) -> Matches:
    """Run ``method`` at the working size; the matches come back in ORIGINAL pixel coordinates."""
    found, s_f, s_m, _ = _match_at_working_size(fixed, moving, method, working_size)
    return found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m))


def register_pair(
    fixed: np.ndarray, moving: np.ndarray, method: Method, config: RegisterConfig | None = None
) -> Registration:
    """Register MOVING onto FIXED (uint8 (H, W) or (H, W, 3) at any size) and return the trusted result.

    Raises RegistrationFailed saying why when the result is not trusted; ``details["registration"]`` then holds
    the rejected Registration when a matrix was found (for --force-output).
    """
    config = config or RegisterConfig()
    start = time.perf_counter()
    found, s_f, s_m, moving_hw_w = _match_at_working_size(fixed, moving, method, config.working_size)
    m_work, inliers = estimate_transform(found, config.model, config.threshold_at_working_size, config.min_inliers)
    m_orig = np.linalg.inv(s_f) @ m_work @ s_m
    m_orig /= m_orig[2, 2]
    result = Registration(
        moving_to_fixed=m_orig,
        model=config.model,
        method=method.describe(),
        matches=found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m)),
        inliers=inliers,
        seconds=0.0,
        parts=linear_parts(m_work, moving_hw_w),
        fixed_hw=fixed.shape[:2],
        moving_hw=moving.shape[:2],
        info={"working_matrix": m_work, **found.info},
    )
    try:
        check_plausible(m_work, moving_hw_w, len(found), result.n_inliers, config.plausibility())
    except RegistrationFailed as exc:
        exc.details["registration"] = result
        raise
    finally:
        result.seconds = time.perf_counter() - start
    return result
