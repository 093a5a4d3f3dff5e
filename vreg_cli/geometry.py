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

__all__ = [
    "AffineParts",
    "affine_matrix",
    "center_similarity",
    "decompose_affine",
    "fit_similarity",
    "grid_points",
    "local_affine",
    "pixel_scale_matrix",
    "point_errors",
    "resize_image",
    "resize_matrix",
    "rotation_matrix",
    "stretch",
    "to_3x3",
    "translation_matrix",
    "warp_image",
    "warp_points",
]


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


def pixel_scale_matrix(sx: float, sy: float | None = None) -> np.ndarray:
    """3x3 map of a resize by factors (sx, sy) with ``cv2.resize``'s pixel-centre rule: x' = (x + 0.5) * sx - 0.5.

    ``sy`` None: the same factor on both axes.
    """
    sy = sx if sy is None else sy
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def resize_matrix(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """Exact pixel map of ``cv2.resize`` from (H, W) to (H', W'): x' = (x + 0.5) * W'/W - 0.5, per axis."""
    return pixel_scale_matrix(dst_hw[1] / src_hw[1], dst_hw[0] / src_hw[0])


def resize_image(
    img: np.ndarray, out_hw: tuple[int, int], *, interpolation: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The one image resize of vreg: ``img`` (H, W[, C]) -> ((H', W'[, C]) resized, S (3x3) original -> resized px).

    S is exact (``resize_matrix``). ``interpolation``: an OpenCV flag; None = area when the output has fewer pixels
    (no aliasing), linear otherwise. An image already of size ``out_hw`` comes back as it is, with S = identity.
    """
    h, w = img.shape[:2]
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    if (out_h, out_w) == (h, w):
        return img, np.eye(3)
    if interpolation is None:
        interpolation = cv2.INTER_AREA if out_h * out_w < h * w else cv2.INTER_LINEAR
    resized = cv2.resize(img, (out_w, out_h), interpolation=interpolation)
    return resized, resize_matrix((h, w), (out_h, out_w))


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


def stretch(m: np.ndarray) -> float:
    """How far a (2x3 or 3x3) affine is from a similarity: the ratio of the larger to the smaller singular value of its
    linear part (1 for a similarity). Unlike ``anisotropy`` and ``shear`` it does not depend on the axes: an
    anisotropic scale along a turned axis shows up as shear in :func:`decompose_affine`, but not here."""
    sv = np.linalg.svd(to_3x3(m)[:2, :2], compute_uv=False)
    return float(sv[0] / sv[1]) if sv[1] > 1e-12 else float("inf")


def point_errors(
    moving_to_fixed: np.ndarray,
    pts_moving: np.ndarray,
    pts_fixed: np.ndarray,
    scale: np.ndarray | tuple[float, float] | None = None,
) -> np.ndarray:
    """The one control-point error of vreg: distances (N,) between M(pts_moving) and pts_fixed (both (N, 2)).

    In fixed-image pixels, or with ``scale`` (2,) = per-axis factors (x, y) applied to each error vector before its
    length is taken (a normalised error, see ``benchmark.metrics.error_scale_diag``).
    """
    d = warp_points(moving_to_fixed, pts_moving) - np.asarray(pts_fixed, np.float64).reshape(-1, 2)
    if scale is not None:
        d = d * np.asarray(scale, np.float64)
    return np.linalg.norm(d, axis=1)


def grid_points(hw: tuple[int, int], step: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Regular grid of (x, y) points with spacing ``step``, optionally kept only where ``mask`` is true."""
    h, w = hw
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    if mask is not None:
        pts = pts[mask[pts[:, 1].astype(int), pts[:, 0].astype(int)]]
    return pts


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, isotropic scale, shift; no mirror) with dst ~ M src (Umeyama 1991).

    src, dst: (N, 2) with N >= 2. Returns the 3x3 matrix. Used to refit a similarity on robust-affine inliers
    because OpenCV's estimateAffinePartial2D has no MAGSAC++.
    """
    src = np.asarray(src, np.float64).reshape(-1, 2)
    dst = np.asarray(dst, np.float64).reshape(-1, 2)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = float((s0**2).sum()) / len(src)
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
    d = np.diag([1.0, 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d)) / max(var_s, 1e-12)
    m = np.eye(3)
    m[:2, :2] = scale * rot
    m[:2, 2] = mu_d - scale * rot @ mu_s
    return m


def local_affine(m: np.ndarray, pt: tuple[float, float]) -> np.ndarray:
    """3x3 affine that best approximates ``m`` (a homography) at point ``pt`` (x, y): its first-order Taylor map."""
    m = to_3x3(m)
    x, y = float(pt[0]), float(pt[1])
    w = m[2, 0] * x + m[2, 1] * y + m[2, 2]
    u = m[0, 0] * x + m[0, 1] * y + m[0, 2]
    v = m[1, 0] * x + m[1, 1] * y + m[1, 2]
    jac = np.array(
        [
            [(m[0, 0] * w - u * m[2, 0]) / w**2, (m[0, 1] * w - u * m[2, 1]) / w**2],
            [(m[1, 0] * w - v * m[2, 0]) / w**2, (m[1, 1] * w - v * m[2, 1]) / w**2],
        ]
    )
    out = np.eye(3)
    out[:2, :2] = jac
    out[:2, 2] = np.array([u / w, v / w]) - jac @ np.array([x, y])
    return out


def center_similarity(
    src_hw: tuple[int, int], dst_hw: tuple[int, int], angle_deg: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    """3x3 map of an (H, W) source into a (H', W') canvas: centre onto centre, rotated (CCW on screen) and scaled."""
    cs = ((src_hw[1] - 1) / 2.0, (src_hw[0] - 1) / 2.0)
    cd = ((dst_hw[1] - 1) / 2.0, (dst_hw[0] - 1) / 2.0)
    return translation_matrix(cd[0] - cs[0], cd[1] - cs[1]) @ rotation_matrix(angle_deg, cs, scale)
