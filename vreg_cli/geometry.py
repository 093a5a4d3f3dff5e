"""Planar geometry shared by every command.

Conventions (everywhere in vreg):
- pixel coordinates are 0-based, x right, y down, (0, 0) is the centre of the top-left pixel;
- a 3x3 matrix ``M`` maps points ``p_dst = M @ (x, y, 1)``; names say the direction (``moving_to_fixed``);
- ``rotation_deg`` is counter-clockwise as seen on screen (OpenCV's ``getRotationMatrix2D`` sign).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def to_3x3(m: np.ndarray) -> np.ndarray:
    """(2, 3) or (3, 3) -> (3, 3) float64."""
    m = np.asarray(m, dtype=np.float64)
    if m.shape == (3, 3):
        return m.copy()
    if m.shape == (2, 3):
        return np.vstack([m, [0.0, 0.0, 1.0]])
    raise ValueError(f"expected a 2x3 or 3x3 matrix, got shape {m.shape}")


def warp_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 (or 2x3) matrix to points. pts: (N, 2) -> (N, 2) float64 (perspective divide included)."""
    m = to_3x3(m)
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    h = pts @ m[:, :2].T + m[:, 2]
    return h[:, :2] / h[:, 2:3]


def rotation_matrix(angle_deg: float, center: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """3x3 rotation (counter-clockwise on screen) and isotropic scale about ``center`` (x, y)."""
    return to_3x3(cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(angle_deg), float(scale)))


def translation_matrix(tx: float, ty: float) -> np.ndarray:
    m = np.eye(3)
    m[0, 2], m[1, 2] = tx, ty
    return m


def affine_matrix(
    angle_deg: float = 0.0,
    scale: float = 1.0,
    translation: tuple[float, float] = (0.0, 0.0),
    shear_deg: float = 0.0,
    flip: bool = False,
    center: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Compose flip (about the vertical axis through ``center``), shear, rotation+scale about ``center``, then shift."""
    cx, cy = center
    to_c, from_c = translation_matrix(-cx, -cy), translation_matrix(cx, cy)
    f = np.diag([-1.0 if flip else 1.0, 1.0, 1.0])
    sh = np.eye(3)
    sh[0, 1] = math.tan(math.radians(shear_deg))
    rot = rotation_matrix(angle_deg, (0.0, 0.0), scale)
    return translation_matrix(*translation) @ from_c @ rot @ sh @ f @ to_c


def resize_matrix(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """Exact pixel map of ``cv2.resize`` from (H, W) to (H', W'): x' = (x + 0.5) * W'/W - 0.5, per axis."""
    sx, sy = dst_hw[1] / src_hw[1], dst_hw[0] / src_hw[0]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def warp_image(
    img: np.ndarray, m: np.ndarray, out_hw: tuple[int, int], *, nearest: bool = False, border_value: float = 0
) -> np.ndarray:
    """Resample ``img`` into an (H, W) canvas with ``m`` mapping source pixels to canvas pixels."""
    m = to_3x3(m)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    size = (int(out_hw[1]), int(out_hw[0]))
    if np.allclose(m[2], [0.0, 0.0, 1.0]):
        return cv2.warpAffine(img, m[:2], size, flags=flags, borderValue=border_value)
    return cv2.warpPerspective(img, m, size, flags=flags, borderValue=border_value)


@dataclass(frozen=True)
class AffineParts:
    """Readable parts of the linear part of an affine: A = R(rotation) @ [[sx, shear], [0, sy]]."""

    rotation_deg: float
    scale: float  # sqrt(|det|): the isotropic scale
    anisotropy: float  # max(sx, sy) / min(sx, sy) >= 1
    shear: float  # the shear factor (0 for a similarity)
    mirrored: bool  # det < 0


def decompose_affine(m: np.ndarray) -> AffineParts:
    """Split a (2x3 or 3x3) affine into rotation, scale, anisotropy, shear and mirroring (QR-style)."""
    a = to_3x3(m)[:2, :2]
    det = float(np.linalg.det(a))
    mirrored = det < 0
    if mirrored:
        a = a @ np.diag([-1.0, 1.0])
    # First column gives rotation and x scale; note y is down, so CCW-on-screen is atan2(-a10, a00).
    sx = math.hypot(a[0, 0], a[1, 0])
    theta = math.atan2(-a[1, 0], a[0, 0])
    c, s = math.cos(theta), math.sin(theta)
    r_inv = np.array([[c, -s], [s, c]])  # inverse of the on-screen CCW rotation
    u = r_inv @ a
    sy = u[1, 1]
    shear = u[0, 1] / sy if abs(sy) > 1e-12 else float("inf")
    scale = math.sqrt(abs(det))
    lo, hi = sorted([abs(sx), abs(sy)])
    return AffineParts(
        rotation_deg=math.degrees(theta),
        scale=scale,
        anisotropy=hi / lo if lo > 1e-12 else float("inf"),
        shear=float(shear),
        mirrored=mirrored,
    )


def point_errors(moving_to_fixed: np.ndarray, pts_moving: np.ndarray, pts_fixed: np.ndarray) -> np.ndarray:
    """Euclidean distances (N,) between M(pts_moving) and pts_fixed, in fixed-image pixels."""
    return np.linalg.norm(warp_points(moving_to_fixed, pts_moving) - np.asarray(pts_fixed, np.float64), axis=1)


def grid_points(hw: tuple[int, int], step: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Regular grid of (x, y) points with spacing ``step``, optionally kept only where ``mask`` is true."""
    h, w = hw
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    if mask is not None:
        pts = pts[mask[pts[:, 1].astype(int), pts[:, 0].astype(int)]]
    return pts
