"""Register one pair: working size -> method.match -> MAGSAC++ -> plausibility -> transform in original pixels.

The method carries the registration context it was built with (``retinareg.context``): its working size, its
MAGSAC++ settings and its limits are the ones used here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retinareg.errors import RegistrationFailed
from retinareg.estimate import linear_parts
from retinareg.geometry import AffineParts, warp_image
from retinareg.io import resize_long_side
from retinareg.methods.base import Matches, Method

CONVENTION = "moving (x, y, 1) -> fixed pixels, 0-based, x right, y down"


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
    fixed: np.ndarray, moving: np.ndarray, method: Method
) -> tuple[Matches, np.ndarray, np.ndarray, tuple[int, int]]:
    """Run ``method`` on both images resized to its context's working size.

    Returns (matches in working pixels, S_fixed, S_moving, moving working (H, W)); S maps original -> working pixels.
    """
    size = method.context.working_size
    fixed_w, s_f = resize_long_side(fixed, size)
    moving_w, s_m = resize_long_side(moving, size)
    return method.match(fixed_w, moving_w), s_f, s_m, moving_w.shape[:2]


def match_pair(fixed: np.ndarray, moving: np.ndarray, method: Method) -> Matches:
    """Run ``method`` at its working size; the matches come back in ORIGINAL pixel coordinates."""
    found, s_f, s_m, _ = _match_at_working_size(fixed, moving, method)
    return found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m))


def match_with_inliers(fixed: np.ndarray, moving: np.ndarray, method: Method) -> tuple[Matches, np.ndarray, str]:
    """``match_pair`` plus an inlier flag per match from the context's affine fit at the working size.

    Returns (matches in ORIGINAL pixels, inliers (N,) bool, "" or why no affine agrees: then every flag is False).
    """
    found, s_f, s_m, _ = _match_at_working_size(fixed, moving, method)
    try:
        _, inliers = method.context.fit(found, method.context.working_size, model="affine", min_inliers=3)
        problem = ""
    except RegistrationFailed as exc:
        inliers, problem = np.zeros(len(found), bool), str(exc)
    return found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m)), inliers, problem


def register_pair(fixed: np.ndarray, moving: np.ndarray, method: Method) -> Registration:
    """Register MOVING onto FIXED (uint8 (H, W) or (H, W, 3) at any size) and return the trusted result.

    Working size, MAGSAC++ threshold and limits come from ``method.context``. Raises RegistrationFailed saying why
    when the result is not trusted; ``details["registration"]`` then holds the rejected Registration when a matrix
    was found (for --force-output).
    """
    context = method.context
    start = time.perf_counter()
    found, s_f, s_m, moving_hw_w = _match_at_working_size(fixed, moving, method)
    m_work, inliers = context.fit(found, context.working_size)
    m_orig = np.linalg.inv(s_f) @ m_work @ s_m
    m_orig /= m_orig[2, 2]
    result = Registration(
        moving_to_fixed=m_orig,
        model=context.model,
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
        context.check(m_work, moving_hw_w, len(found), result.n_inliers)
    except RegistrationFailed as exc:
        exc.details["registration"] = result
        raise
    finally:
        result.seconds = time.perf_counter() - start
    return result
