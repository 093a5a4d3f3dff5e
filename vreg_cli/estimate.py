"""Robust transform estimation (OpenCV USAC MAGSAC++) and the plausibility checks every method is judged by.

All functions here work in one coordinate frame (``register_images`` uses the working size, where both images have
the same long side, so a scale of 1 means "same field of view"). Callers reach them through the registration context
(``vreg_cli.context.RegistrationContext.fit`` / ``.check``), which owns the thresholds and limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import AffineParts, decompose_affine, fit_similarity, local_affine, warp_points
from vreg_cli.provenance import RefusalDetails

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext
    from vreg_cli.matches import Matches

__all__ = ["check_plausible", "estimate_transform", "linear_parts"]


Model = Literal["affine", "similarity", "homography"]
_MIN_POINTS = {"affine": 3, "similarity": 2, "homography": 4}


def estimate_transform(
    matches: Matches,
    model: str,
    threshold_px: float,
    min_inliers: int,
    *,
    confidence: float = 0.999,
    max_iters: int = 10000,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit moving -> fixed with MAGSAC++ and return (M (3, 3), inliers (N,) bool).

    Reached through ``RegistrationContext.fit``, which owns the model, the threshold and the least inlier count.

    ``similarity``: OpenCV's estimateAffinePartial2D has no MAGSAC++, so a MAGSAC++ affine selects the inliers, a
    closed-form similarity (Umeyama) is fitted on them, its own inliers (residual < threshold) are taken and it
    is refitted once. Raises RegistrationFailed (with ``matches`` / ``inliers`` in its details) when there are too few
    matches or inliers.
    """
    n = len(matches)
    need = max(min_inliers, _MIN_POINTS[model])
    if n < need:
        raise RegistrationFailed(
            f"only {n} matches found; a trusted {model} needs at least {need}", RefusalDetails(matches=n, inliers=0)
        )
    src = matches.moving.astype(np.float32)
    dst = matches.fixed.astype(np.float32)
    if model == "homography":
        m, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, threshold_px, None, max_iters, confidence)
    else:
        m, mask = cv2.estimateAffine2D(
            src, dst, method=cv2.USAC_MAGSAC, ransacReprojThreshold=threshold_px, maxIters=max_iters,
            confidence=confidence, refineIters=10,
        )  # fmt: skip
    if m is None or mask is None:
        why = f"no {model} transform is consistent with the {n} matches"
        raise RegistrationFailed(why, RefusalDetails(matches=n, inliers=0))
    inliers = mask.reshape(-1).astype(bool)
    m = np.vstack([m, [0.0, 0.0, 1.0]]) if m.shape == (2, 3) else np.asarray(m, np.float64)
    if model == "similarity" and inliers.sum() >= 2:
        for _ in range(2):
            m = fit_similarity(matches.moving[inliers], matches.fixed[inliers])
            inliers = np.linalg.norm(warp_points(m, matches.moving) - matches.fixed, axis=1) < threshold_px
            if inliers.sum() < 2:
                break
    k = int(inliers.sum())
    if k < need:
        raise RegistrationFailed(
            f"only {k} of {n} matches agree on one {model} transform (need {need})",
            RefusalDetails(matches=n, inliers=k),
        )
    return m, inliers


def _perspective_strength(m: np.ndarray, hw: tuple[int, int]) -> float:
    """Largest |w - 1| of the projective denominator over the moving image's corners (0 for an affine)."""
    h, w = hw
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64)
    denom = corners @ (np.asarray(m, np.float64)[2] / m[2, 2])
    return float(np.abs(denom - 1.0).max()) if np.all(denom > 0) else float("inf")


def linear_parts(m: np.ndarray, moving_hw: tuple[int, int]) -> AffineParts:
    """Rotation/scale/shear of ``m``; a homography is judged by its local affine at the moving image's centre."""
    centre = ((moving_hw[1] - 1) / 2.0, (moving_hw[0] - 1) / 2.0)
    affine = m if np.allclose(m[2], [0.0, 0.0, 1.0]) else local_affine(m, centre)
    return decompose_affine(affine)


def check_plausible(
    m: np.ndarray, moving_hw: tuple[int, int], n_matches: int, n_inliers: int, limits: RegistrationContext
) -> AffineParts:
    """Raise RegistrationFailed saying why ``m`` (moving -> fixed) is not a believable retinal registration.

    ``limits``: the registration context (``vreg_cli.context``), the one owner of every limit used here.

    Returns the transform's parts when it passes.
    """
    parts = linear_parts(m, moving_hw)
    lo, hi = limits.scale_range
    why: str | None = None
    ratio = n_inliers / max(n_matches, 1)
    if ratio < limits.min_inlier_ratio:
        why = f"only {ratio:.0%} of the matches are inliers (need {limits.min_inlier_ratio:.0%})"
    elif parts.mirrored and not limits.allow_mirror:
        why = "the transform mirrors the image (use --allow-mirror if the moving image really is flipped)"
    elif not lo <= parts.scale <= hi:
        why = f"scale {parts.scale:.2f} is outside the allowed range {lo:g}-{hi:g} (--scale-range)"
    elif parts.anisotropy > limits.max_anisotropy:
        why = f"the transform stretches one axis {parts.anisotropy:.2f}x more than the other"
    elif abs(parts.shear) > limits.max_shear:
        why = f"the transform has a strong shear ({parts.shear:.2f})"
    elif abs(parts.rotation_deg) > limits.max_rotation + 1e-9:
        why = f"rotation {parts.rotation_deg:.1f} deg exceeds --max-rotation {limits.max_rotation:g}"
    elif _perspective_strength(m, moving_hw) > limits.max_perspective:
        why = "the homography is too perspective for a retinal image (try --model affine)"
    if why is not None:
        raise RegistrationFailed(why, RefusalDetails(matches=n_matches, inliers=n_inliers))
    return parts
