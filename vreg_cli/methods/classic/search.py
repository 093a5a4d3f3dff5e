"""Classic's global search: both images as vessel maps (the moving one at several levels) and the rotation x scale
hypotheses of :func:`vreg_cli.methods.classic.global_search.global_search` on each level, best score first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.io import resize_long_side
from vreg_cli.methods.classic.global_search import Candidate, global_search
from vreg_cli.vessels import VesselMap

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext
    from vreg_cli.methods.classic.options import ClassicOptions

__all__ = ["Hypothesis", "Prepared", "given_pixels", "hypotheses", "prepare", "resized"]


@dataclass(frozen=True)
class Prepared:
    """An image at the working size (times ``level``) and its vessel map."""

    image: np.ndarray
    to_work: np.ndarray  # 3x3, input pixels -> working pixels
    vessels: VesselMap
    level: float = 1.0  # fraction of the working size


@dataclass(frozen=True)
class Hypothesis:
    """A global-search candidate and the moving level it was found on (its matrix is in that level's pixels)."""

    moving: Prepared
    candidate: Candidate


def given_pixels(matrix: np.ndarray, f: Prepared, m: Prepared) -> np.ndarray:
    """MATRIX (3x3, moving level M -> fixed F, working pixels) in the pixels of the images given."""
    return np.linalg.inv(f.to_work) @ matrix @ m.to_work


def resized(img: np.ndarray, side: int, level: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """IMAGE at long side ``side * level`` (at least 32 px) and its 3x3 input -> working pixels."""
    return resize_long_side(img, max(32, round(side * level)))


def prepare(c: ClassicOptions, img: np.ndarray, side: int, level: float = 1.0) -> Prepared:
    """IMAGE at long side ``side * level`` (a no-op for the fixed image) and its vessel map."""
    work, to_work = resized(img, side, level)
    return Prepared(work, to_work, c.vessel_map(work), level)


def moving_levels(
    context: RegistrationContext, c: ClassicOptions, f: Prepared, moving: np.ndarray
) -> list[tuple[Prepared, tuple[float, float]]]:
    """The moving image at each level with the scale band (in that level's pixels) searched on it."""
    side = max(f.image.shape[:2])
    levels = sorted(set(c.moving_levels) | {1.0}, reverse=True)
    out = []
    for k, r in enumerate(levels):
        # band in working-size (level 1) scale: up to the geometric mean with each neighbour
        hi = math.sqrt(levels[k - 1] * r) * c.level_overlap if k > 0 else math.inf
        lo = math.sqrt(levels[k + 1] * r) / c.level_overlap if k + 1 < len(levels) else 0.0
        m = prepare(c, moving, side, r)
        # The scale range is in the pixels of the images given; resizing each to its size shifts it.
        ratio = f.to_work[0, 0] / m.to_work[0, 0]
        s_lo, s_hi = context.scale_range[0] * ratio, context.scale_range[1] * ratio
        band = (max(s_lo, lo / r), min(s_hi, hi / r))
        if band[0] < band[1] or (len(levels) == 1):
            out.append((m, band if band[0] < band[1] else (s_lo, s_hi)))
    return out


def hypotheses(context: RegistrationContext, c: ClassicOptions, f: Prepared, moving: np.ndarray) -> list[Hypothesis]:
    """Global search on every moving level; hypotheses of all levels, best score first."""
    hyps: list[Hypothesis] = []
    for m, band in moving_levels(context, c, f, moving):
        found = global_search(
            (f.vessels.strength, f.vessels.valid),
            (m.vessels.strength, m.vessels.valid),
            max_rotation=context.max_rotation,
            scale_range=band,
            coarse_size=round(c.coarse_size / m.level),
            fine_size=c.fine_size,
            angle_step=c.angle_step,
            scale_step=c.scale_step,
            keep=c.candidates,
        )
        hyps.extend(Hypothesis(m, k) for k in found)
    hyps.sort(key=lambda h: -h.candidate.score)
    return hyps
