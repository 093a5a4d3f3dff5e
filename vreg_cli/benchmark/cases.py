"""Benchmark cases: which image pair, which synthetic transform, which error points.

A case is fully determined by (seed, pair name, modality pair, rotation bin): its random draws come from a seed
sequence of exactly these, so the cases are identical on every run, for every method, whatever other bins or pairs are
in the run. A ``CaseSpec`` is small and picklable (sent to worker processes); ``Source.load`` materialises the images.

Transform convention: ``transform`` maps the ORIGINAL moving image (pixel-aligned with the fixed image in HDF5 mode,
or the user's moving image in pairs mode) to the moving image the method sees.

Protocols:
- ``standard``: rotate by the bin angle (random sign) and scale (``scale_range``) about the image centre, then shift
  (up to ``shift_frac`` of W and H).
- ``smallfov`` (the CF-OCT en-face regime): the moving image becomes a window of the original, zoomed in by a factor
  drawn log-uniformly from ``zoom_range`` (1.4-2.2), centred at a point drawn uniformly from ``center_range`` (0.3-0.7)
  of W and H, rotated by the bin angle (random sign) and shown on a canvas of the original's size; it is then degraded
  with gamma (``gamma_range``), Gaussian blur (``blur_range``, sigma in px) and Gaussian noise (``noise_range``, sigma
  in grey levels of 8 bits). Only error points in view count; a window keeping fewer than ``min_points`` is drawn
  again (from the same case generator, so still deterministic).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from vreg_cli.benchmark.config import CaseConfig
from vreg_cli.errors import VregError
from vreg_cli.geometry import affine_matrix, rotation_matrix, translation_matrix, warp_image, warp_points

__all__ = [
    "CaseConfig",
    "CaseData",
    "CaseSpec",
    "Degradation",
    "carry_points",
    "degrade_image",
    "draw_case",
    "in_view",
    "present_moving",
]


@dataclass(frozen=True)
class Degradation:
    """Photometric degradation of the presented moving image: out = noise(blur(max * (in / max) ** gamma)).

    blur: Gaussian sigma in px (0 = none); noise: Gaussian sigma in grey levels of 8 bits (scaled for 16-bit images),
    the same field added to every channel; noise_seed: seed of that field.
    """

    gamma: float
    blur: float
    noise: float
    noise_seed: int


@dataclass(frozen=True)
class CaseSpec:
    """One case. transform: (3, 3) original moving -> presented moving pixels."""

    case_id: str
    pair: str
    modality: str  # "cf-fa", "cf-oct" (HDF5 mode) or "pair" (real pairs)
    index: int  # sample index in the HDF5 file or in the pair list
    bin: int
    angle: float  # signed degrees, counter-clockwise on screen
    scale: float
    shift: tuple[float, float]  # pixels (x, y); smallfov: window centre minus image centre (original pixels)
    transform: np.ndarray = field(compare=False, repr=False)
    protocol: str = "standard"
    degrade: Degradation | None = None  # smallfov only


@dataclass
class CaseData:
    """A materialised case. fixed (H, W[, 3]); moving (H', W'[, 3]); pts_fixed, pts_moving: (N, 2) correspondences
    (pts_moving in the presented moving image); gt: (3, 3) true moving -> fixed map if known (synthetic), else None."""

    fixed: np.ndarray
    moving: np.ndarray
    pts_fixed: np.ndarray
    pts_moving: np.ndarray
    gt: np.ndarray | None = None


def _stable_hash(text: str) -> int:
    # Python's hash() is salted per process; crc32 is the same everywhere, which the determinism relies on.
    return zlib.crc32(text.encode("utf-8"))


def _case_rng(seed: int, pair: str, modality: str, bin_deg: int) -> np.random.Generator:
    """The generator of one case (independent of every other case and of the method)."""
    return np.random.default_rng(np.random.SeedSequence([seed, _stable_hash(pair), _stable_hash(modality), bin_deg]))


def draw_case(
    config: CaseConfig,
    pair: str,
    modality: str,
    index: int,
    bin_deg: int,
    hw: tuple[int, int],
    points: np.ndarray | None = None,
) -> CaseSpec:
    """Draw the transform of one case for a moving image of size ``hw`` (H, W).

    points: (N, 2) error points in the original moving image; the smallfov protocol redraws its window until at least
    ``config.min_points`` of them are in view (None: no such check).
    """
    rng = _case_rng(config.seed, pair, modality, bin_deg)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if config.protocol == "smallfov":
        return _draw_window(config, rng, sign, pair, modality, index, bin_deg, hw, points)
    lo, hi = config.scale_range
    scale = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    h, w = hw
    shift = rng.uniform(-config.shift_frac, config.shift_frac, size=2) * np.array([w, h], np.float64)
    angle = sign * float(bin_deg) if bin_deg else 0.0  # no '-0.0' in the tables
    center = ((w - 1) / 2.0, (h - 1) / 2.0)
    t = affine_matrix(angle_deg=angle, scale=scale, translation=(float(shift[0]), float(shift[1])), center=center)
    case_id = f"{pair}|{modality}|{bin_deg}"
    return CaseSpec(case_id, pair, modality, index, int(bin_deg), angle, scale, (float(shift[0]), float(shift[1])), t)


def _draw_window(
    config: CaseConfig,
    rng: np.random.Generator,
    sign: float,
    pair: str,
    modality: str,
    index: int,
    bin_deg: int,
    hw: tuple[int, int],
    points: np.ndarray | None,
) -> CaseSpec:
    """A smallfov case: zoomed, rotated window (redrawn until enough points are in view) and its degradation."""
    h, w = hw
    angle = sign * float(bin_deg) if bin_deg else 0.0
    out_c = ((w - 1) / 2.0, (h - 1) / 2.0)
    lo, hi = np.log(config.zoom_range[0]), np.log(config.zoom_range[1])
    for _ in range(config.max_draws):
        zoom = float(np.exp(rng.uniform(lo, hi))) if hi > lo else float(config.zoom_range[0])
        cx, cy = rng.uniform(*config.center_range, size=2) * np.array([w - 1, h - 1], np.float64)
        # original -> presented: the window centre goes to the canvas centre, turned and zoomed about it
        t = rotation_matrix(angle, out_c, zoom) @ translation_matrix(out_c[0] - cx, out_c[1] - cy)
        if points is None or int(in_view(warp_points(t, points), hw).sum()) >= config.min_points:
            break
    else:
        raise VregError(
            f"pair {pair!r}: no smallfov window out of {config.max_draws} keeps {config.min_points} error points in "
            "view (too few landmarks)"
        )
    degrade = Degradation(
        gamma=float(rng.uniform(*config.gamma_range)),
        blur=float(rng.uniform(*config.blur_range)),
        noise=float(rng.uniform(*config.noise_range)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )
    shift = (float(cx - out_c[0]), float(cy - out_c[1]))
    case_id = f"{pair}|{modality}|{bin_deg}"
    return CaseSpec(case_id, pair, modality, index, int(bin_deg), angle, zoom, shift, t, config.protocol, degrade)


def in_view(pts: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(N,) bool: points (N, 2) of the presented moving image that lie inside its (H, W) canvas."""
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    h, w = hw
    return (pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] <= h - 1)


def degrade_image(img: np.ndarray, d: Degradation) -> np.ndarray:
    """Apply gamma, Gaussian blur and Gaussian noise to an (H, W[, C]) uint8/uint16 image (same dtype back)."""
    import cv2

    top = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 1.0
    x = np.power(np.clip(img.astype(np.float32) / top, 0.0, 1.0), d.gamma) * top
    if d.blur > 0.05:
        x = cv2.GaussianBlur(x, (0, 0), d.blur)
    if d.noise > 0:
        noise = np.random.default_rng(d.noise_seed).normal(0.0, d.noise * top / 255.0, img.shape[:2])
        x = x + (noise[:, :, None] if x.ndim == 3 else noise).astype(np.float32)
    x = np.clip(np.round(x), 0, top)
    return x.astype(img.dtype)


def present_moving(moving: np.ndarray, spec: CaseSpec) -> np.ndarray:
    """The moving image the method sees: the original warped by the case transform on a canvas of its own size
    (then degraded, smallfov)."""
    out = warp_image(moving, spec.transform, moving.shape[:2])
    return degrade_image(out, spec.degrade) if spec.degrade is not None else out


def carry_points(spec: CaseSpec, pts_moving: np.ndarray) -> np.ndarray:
    """Original moving-image points (N, 2) -> points in the presented moving image."""
    return warp_points(spec.transform, pts_moving)
