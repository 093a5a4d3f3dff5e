"""Local refinement of a global estimate by dense patch matching on vessel maps.

The moving vessel map is warped into the fixed frame with the current estimate. On a regular grid, every patch with
enough vessel content is searched for in the fixed vessel map within a small radius (normalised cross-correlation,
OpenCV ``matchTemplate``). Each found patch gives one genuine correspondence: the patch centre in the moving image
and where it landed in the fixed image. An affine fitted to them by the context's MAGSAC++ (``classic.refine.fit``)
is the next estimate; the search radius shrinks from pass to pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vreg_cli.geometry import to_3x3, warp_points
from vreg_cli.vessels import VesselMap

__all__ = ["PatchMatches", "patch_matches"]


@dataclass(frozen=True)
class PatchMatches:
    """fixed, moving: (N, 2) pixel coordinates; ncc: (N,) peak normalised cross-correlation in [-1, 1];
    attempted: how many patches had enough vessel content to be searched (found or not)."""

    fixed: np.ndarray
    moving: np.ndarray
    ncc: np.ndarray
    attempted: int


def _subpixel(res: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Parabolic sub-pixel offset of a peak at (x, y) of a 2-D response (0 at the edges)."""
    h, w = res.shape
    dx = dy = 0.0
    if 0 < x < w - 1:
        a, b, c = res[y, x - 1], res[y, x], res[y, x + 1]
        den = a - 2 * b + c
        dx = 0.5 * (a - c) / den if den < 0 else 0.0
    if 0 < y < h - 1:
        a, b, c = res[y - 1, x], res[y, x], res[y + 1, x]
        den = a - 2 * b + c
        dy = 0.5 * (a - c) / den if den < 0 else 0.0
    return float(np.clip(dx, -0.5, 0.5)), float(np.clip(dy, -0.5, 0.5))


def _searchable(
    fixed: VesselMap, moving: VesselMap, m: np.ndarray, *, patch: int, step: int, radius: int, min_content: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The moving map warped into the fixed frame by M (3x3) and the grid centres (x, y) of the patches to search:
    inside both valid regions, at least ``min_content`` vessel pixels, and the search window inside the image."""
    h, w = fixed.strength.shape
    warped = cv2.warpAffine(moving.strength, m[:2], (w, h), flags=cv2.INTER_LINEAR)
    wvalid = cv2.warpAffine(moving.valid.astype(np.uint8), m[:2], (w, h), flags=cv2.INTER_NEAREST) > 0
    lo = patch // 2 + radius
    ys, xs = np.arange(lo, h - lo, step), np.arange(lo, w - lo, step)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    # Valid and vessel pixels in the patch-sized box around each grid centre, from integral images (exact counts;
    # the centres keep the box inside the image)
    y0, x0, y1, x1 = gy - patch // 2, gx - patch // 2, gy + (patch - 1) // 2 + 1, gx + (patch - 1) // 2 + 1

    def box_share(mask: np.ndarray) -> np.ndarray:
        ii = cv2.integral(mask.view(np.uint8))
        return (ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]) / float(patch * patch)

    keep = (box_share(wvalid & fixed.valid) >= 0.98) & (box_share(warped > 0.5) >= min_content)
    return warped, list(zip(gx[keep].tolist(), gy[keep].tolist(), strict=True))


def patch_matches(
    fixed: VesselMap,
    moving: VesselMap,
    moving_to_fixed: np.ndarray,
    *,
    patch: int,
    step: int,
    radius: int,
    min_ncc: float,
    min_content: float,
) -> PatchMatches:
    """Correspondences from patches of the warped moving map searched in the fixed map within ``radius`` px.

    A patch is used when it lies inside both valid regions and at least ``min_content`` of its pixels are vessel
    (strength > 0.5): empty background has no position to find. A peak on the search window's edge (the true
    position may lie outside) or below ``min_ncc`` gives no match.
    """
    m = to_3x3(moving_to_fixed)
    warped, grid = _searchable(fixed, moving, m, patch=patch, step=step, radius=radius, min_content=min_content)
    half = patch // 2
    fixed_pts, moving_pts, nccs = [], [], []
    for x, y in grid:
        tmpl = warped[y - half : y + half, x - half : x + half]
        region = fixed.strength[y - half - radius : y + half + radius, x - half - radius : x + half + radius]
        res = cv2.matchTemplate(region, tmpl, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (px, py) = cv2.minMaxLoc(res)
        if peak < min_ncc or px in (0, 2 * radius) or py in (0, 2 * radius):
            continue
        sx, sy = _subpixel(res, px, py)
        fixed_pts.append((x + px - radius + sx, y + py - radius + sy))
        moving_pts.append((x, y))
        nccs.append(peak)
    attempted = len(grid)
    if not fixed_pts:
        return PatchMatches(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), attempted)
    # Patch centres live in the fixed frame; their source in the moving image is the inverse warp.
    moving_src = warp_points(np.linalg.inv(m), np.asarray(moving_pts, np.float64))
    return PatchMatches(np.asarray(fixed_pts, np.float64), moving_src, np.asarray(nccs, np.float64), attempted)
