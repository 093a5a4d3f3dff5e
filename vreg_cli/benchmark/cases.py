"""Benchmark cases: which image pair, which synthetic transform, which error points.

A case is fully determined by (seed, pair name, modality pair, rotation bin): its random draws come from a seed
sequence of exactly these, so the cases are identical on every run, for every method, whatever other bins or pairs are
in the run. A ``CaseSpec`` is small and picklable (sent to worker processes); ``Source.load`` materialises the images.

Transform convention: ``transform`` maps the ORIGINAL moving image (pixel-aligned with the fixed image in HDF5 mode,
or the user's moving image in pairs mode) to the moving image the method sees. It rotates by the bin angle (random
sign) and scales about the image centre, then shifts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from vreg_cli.geometry import affine_matrix, warp_image, warp_points


@dataclass(frozen=True)
class CaseConfig:
    """How cases are drawn. scale_range: uniform isotropic scale; shift_frac: uniform shift, fraction of W / H."""

    bins: tuple[int, ...] = (0, 15, 30, 45, 60, 90, 135, 180)
    scale_range: tuple[float, float] = (0.9, 1.1)
    shift_frac: float = 0.08
    seed: int = 0


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
    shift: tuple[float, float]  # pixels (x, y)
    transform: np.ndarray = field(compare=False, repr=False)


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


def case_rng(seed: int, pair: str, modality: str, bin_deg: int) -> np.random.Generator:
    """The generator of one case (independent of every other case and of the method)."""
    return np.random.default_rng(np.random.SeedSequence([seed, _stable_hash(pair), _stable_hash(modality), bin_deg]))


def draw_case(config: CaseConfig, pair: str, modality: str, index: int, bin_deg: int, hw: tuple[int, int]) -> CaseSpec:
    """Draw the transform of one case for a moving image of size ``hw`` (H, W)."""
    rng = case_rng(config.seed, pair, modality, bin_deg)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    lo, hi = config.scale_range
    scale = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    h, w = hw
    shift = rng.uniform(-config.shift_frac, config.shift_frac, size=2) * np.array([w, h], np.float64)
    angle = sign * float(bin_deg) if bin_deg else 0.0  # no '-0.0' in the tables
    center = ((w - 1) / 2.0, (h - 1) / 2.0)
    t = affine_matrix(angle_deg=angle, scale=scale, translation=(float(shift[0]), float(shift[1])), center=center)
    case_id = f"{pair}|{modality}|{bin_deg}"
    return CaseSpec(case_id, pair, modality, index, int(bin_deg), angle, scale, (float(shift[0]), float(shift[1])), t)


def present_moving(moving: np.ndarray, spec: CaseSpec) -> np.ndarray:
    """The moving image the method sees: the original warped by the case transform on a canvas of its own size."""
    return warp_image(moving, spec.transform, moving.shape[:2])


def carry_points(spec: CaseSpec, pts_moving: np.ndarray) -> np.ndarray:
    """Original moving-image points (N, 2) -> points in the presented moving image."""
    return warp_points(spec.transform, pts_moving)
