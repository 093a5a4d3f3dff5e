"""Classic's refinement of one hypothesis: dense vessel-patch matching with a shrinking search radius and the
context's MAGSAC++ affine per pass, then the verification pass (every patch searched again in a wide window)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import decompose_affine, stretch, warp_points
from vreg_cli.methods.base import Matches
from vreg_cli.methods.classic.global_search import Candidate
from vreg_cli.methods.classic.patch_match import PatchMatches, patch_matches
from vreg_cli.methods.classic.search import Hypothesis, Prepared, given_pixels

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext
    from vreg_cli.methods.classic.options import ClassicOptions

__all__ = ["Refined", "Verification", "patch_step", "refine", "verified"]


@dataclass(frozen=True)
class Verification:
    """Classic's verification of an estimate: ``verified`` of ``attempted`` vessel patches peak where it predicts."""

    verified: int
    attempted: int

    @property
    def ratio(self) -> float:
        return self.verified / max(self.attempted, 1)


@dataclass(frozen=True)
class Refined:
    """A refined hypothesis: its affine, inlier patch correspondences and the counts the acceptance rules read."""

    matrix: np.ndarray  # working pixels, moving -> fixed
    fixed: np.ndarray
    moving: np.ndarray
    ncc: np.ndarray
    attempted: int  # patches searched in the last pass
    candidate: Candidate
    moving_level: Prepared
    verified: int  # patches of the verification pass whose peak agrees with the estimate
    verify_attempted: int  # patches searched in the verification pass
    scale: float  # isotropic scale of the estimate in the pixels of the images given
    stretch: float  # and its singular-value ratio (1 for a similarity)

    @property
    def verified_ratio(self) -> float:
        return self.verified / max(self.verify_attempted, 1)


def fit(context: RegistrationContext, pm: PatchMatches, side: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The context's MAGSAC++ affine on patch matches (3x3, inliers), or None when it cannot be fitted."""
    try:
        return context.fit(Matches(pm.fixed, pm.moving, pm.ncc), side, model="affine", min_inliers=3)
    except RegistrationFailed:
        return None


def refine(context: RegistrationContext, c: ClassicOptions, f: Prepared, hyp: Hypothesis) -> Refined | None:
    """HYP refined by one patch search and affine fit per radius of ``c.radii``, then verified; None when a pass
    cannot be fitted."""
    side = max(f.image.shape[:2])
    m, cand = hyp.moving, hyp.candidate
    mat = cand.matrix
    step = patch_step(c, f, m, mat)
    pm, inl = None, None
    for radius in c.radii:
        pm = _patch_search(c, f, m, mat, step, radius)
        found = fit(context, pm, side)
        if found is None:
            return None
        mat, inl = found
    assert pm is not None and inl is not None
    agree, attempted = verified(context, c, f, m, mat, step)
    given = given_pixels(mat, f, m)
    return Refined(
        mat, pm.fixed[inl], pm.moving[inl], pm.ncc[inl], pm.attempted, cand, m, agree, attempted,
        decompose_affine(given).scale, stretch(given),
    )  # fmt: skip


def _patch_search(c: ClassicOptions, f: Prepared, m: Prepared, mat: np.ndarray, step: int, radius: int) -> PatchMatches:
    """Vessel patches of M on a grid of STEP px, each searched within RADIUS px of where MAT puts it in F: the
    one patch search of the refinement passes and the verification pass (same grid, different radii)."""
    return patch_matches(
        f.vessels, m.vessels, mat, patch=c.patch, step=step, radius=radius, min_ncc=c.min_ncc,
        min_content=c.min_content,
    )  # fmt: skip


def verified(
    context: RegistrationContext, c: ClassicOptions, f: Prepared, m: Prepared, mat: np.ndarray, step: int
) -> tuple[int, int]:
    """The verification pass: (patches whose peak agrees with MAT, patches searched).

    Every patch is searched again in a wide window (``verify_radius``) around the estimate MAT (working pixels,
    moving level M -> fixed). A true estimate puts most peaks where it predicts; by chance a peak lands within
    the threshold of the prediction about pi t^2 / (2 R + 1)^2 of the time (~1 % at R = 24), unlike the last
    refinement pass (R = 5: ~25 %).
    """
    vm = _patch_search(c, f, m, mat, step, c.verify_radius)
    residual = np.linalg.norm(warp_points(mat, vm.moving) - vm.fixed, axis=1)
    return int((residual <= context.threshold_for(max(f.image.shape[:2]))).sum()), vm.attempted


def patch_step(c: ClassicOptions, f: Prepared, m: Prepared, mat: np.ndarray) -> int:
    """Patch grid step: ``step`` for a moving image covering at least ``full_footprint`` of the fixed field of
    view, denser (down to ``min_step``) for a smaller footprint, so that a small field of view still gives
    enough patches to fit and verify."""
    foot = abs(np.linalg.det(mat[:2, :2])) * float(m.vessels.valid.sum())  # moving valid area in fixed px
    share = foot / max(float(f.vessels.valid.sum()), 1.0)
    return int(np.clip(round(c.step * np.sqrt(min(1.0, share / c.full_footprint))), c.min_step, c.step))
