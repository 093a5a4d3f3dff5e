"""``classic``: weight-free multimodal retinal registration at any rotation and scale.

Pipeline (all on polarity-free vessel maps, see ``vessels.py``):
1. global search over rotation x scale with FFT cross-correlation for the shift (``search.py``);
2. for the best few hypotheses, dense patch matching on the vessel maps with a shrinking search radius and a
   MAGSAC++ affine fit per pass (``refine.py``);
3. the trusted hypothesis with the most inlier patches wins; its inlier patch correspondences are the returned
   matches, so that a robust fit on them reproduces the affine. Too few inliers, too small a share of the searched
   patches, or too weak a correlation raise ``RegistrationFailed`` instead of returning something untrusted.

Quality score (``Matches.info["quality"]``, 0..1): global vessel correlation / 0.5, inlier count / 40 and inlier
share of the searched patches, multiplied (each capped at 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import decompose_affine
from vreg_cli.io import resize_long_side
from vreg_cli.methods.base import Matches, Method
from vreg_cli.methods.refine import fit_affine, patch_matches
from vreg_cli.methods.search import Candidate, global_search
from vreg_cli.methods.vessels import VesselMap, vessel_map


@dataclass
class ClassicConfig:
    """Settings of the classic method. Pixel sizes are at ``working_size`` (long side of each image)."""

    working_size: int = 640
    max_rotation: float = 180.0  # search rotations in [-max_rotation, max_rotation] degrees
    # moving->fixed scale in the pixels of the images given (the field-of-view ratio at the working size)
    scale_range: tuple[float, float] = (0.4, 2.5)
    # vessel map
    sigmas: tuple[float, ...] = (2.0, 3.0, 4.5)
    fov_erode: float = 0.03  # fraction of the long side removed inside the field-of-view border
    # global search
    coarse_size: int = 48
    fine_size: int = 128
    angle_step: float = 8.0
    scale_step: float = 1.15
    candidates: int = 4  # hypotheses kept after the coarse search
    refine_candidates: int = 2  # of which at most this many are refined (in score order)
    clear_inlier_ratio: float = 0.5  # a refined hypothesis this good ends the search early
    # refinement
    patch: int = 48
    step: int = 24
    radii: tuple[int, ...] = (24, 10, 5)
    min_ncc: float = 0.3
    min_content: float = 0.06
    ransac_threshold: float = 3.0
    # acceptance
    min_inliers: int = 12
    min_inlier_ratio: float = 0.3
    min_score: float = 0.12  # normalised correlation of the global search


@dataclass(frozen=True)
class _Prepared:
    image: np.ndarray
    to_work: np.ndarray  # 3x3, input pixels -> working pixels
    vessels: VesselMap


@dataclass(frozen=True)
class _Refined:
    matrix: np.ndarray  # working pixels, moving -> fixed
    fixed: np.ndarray
    moving: np.ndarray
    ncc: np.ndarray
    attempted: int  # patches searched in the last pass
    candidate: Candidate


class ClassicMethod(Method):
    """Vessel-map global search + patch refinement; see the module docstring."""

    name = "classic"

    def __init__(self, config: ClassicConfig | None = None) -> None:
        self.config = config or ClassicConfig()

    def describe(self) -> str:
        c = self.config
        return (
            f"classic (vessel maps, rotation +-{c.max_rotation:g} deg, scale {c.scale_range[0]:g}-{c.scale_range[1]:g})"
        )

    def _prepare(self, img: np.ndarray) -> _Prepared:
        work, to_work = resize_long_side(img, self.config.working_size)
        erode = max(2, round(self.config.fov_erode * self.config.working_size))
        return _Prepared(work, to_work, vessel_map(work, sigmas=self.config.sigmas, erode_px=erode))

    def _search(self, f: _Prepared, m: _Prepared) -> list[Candidate]:
        c = self.config
        # The scale range is in the pixels of the images given; resizing each to the working size shifts it.
        ratio = f.to_work[0, 0] / m.to_work[0, 0]
        return global_search(
            (f.vessels.strength, f.vessels.valid),
            (m.vessels.strength, m.vessels.valid),
            max_rotation=c.max_rotation,
            scale_range=(c.scale_range[0] * ratio, c.scale_range[1] * ratio),
            coarse_size=c.coarse_size,
            fine_size=c.fine_size,
            angle_step=c.angle_step,
            scale_step=c.scale_step,
            keep=c.candidates,
        )

    def global_estimate(self, fixed: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, float]:
        """Best similarity from the global search alone: (3x3 moving->fixed in input pixels, correlation score)."""
        f, m = self._prepare(fixed), self._prepare(moving)
        best = self._search(f, m)[0]
        return np.linalg.inv(f.to_work) @ best.matrix @ m.to_work, best.score

    def _refine(self, f: _Prepared, m: _Prepared, cand: Candidate) -> _Refined | None:
        c = self.config
        mat = cand.matrix
        pm, inl = None, None
        for radius in c.radii:
            pm = patch_matches(
                f.vessels,
                m.vessels,
                mat,
                patch=c.patch,
                step=c.step,
                radius=radius,
                min_ncc=c.min_ncc,
                min_content=c.min_content,
            )
            fit = fit_affine(pm, c.ransac_threshold)
            if fit is None:
                return None
            mat, inl = fit
        assert pm is not None and inl is not None
        return _Refined(mat, pm.fixed[inl], pm.moving[inl], pm.ncc[inl], pm.attempted, cand)

    def _trusted(self, r: _Refined) -> bool:
        """Enough inlier patches, a large enough share of the searched patches, and a real vessel correlation."""
        c = self.config
        n_in = len(r.ncc)
        return r.candidate.score >= c.min_score and n_in >= c.min_inliers and n_in >= c.min_inlier_ratio * r.attempted

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Inlier patch correspondences (input pixels) of the best refined hypothesis; RegistrationFailed if none
        is trusted."""
        c = self.config
        f, m = self._prepare(fixed), self._prepare(moving)
        cands = self._search(f, m)
        results: list[_Refined] = []
        for cand in cands[: c.refine_candidates]:
            r = self._refine(f, m, cand)
            if r is not None:
                results.append(r)
                if len(r.ncc) >= c.min_inliers and len(r.ncc) >= c.clear_inlier_ratio * r.attempted:
                    break  # clearly right: refining the runner-up is not worth its time
        details = {"global_score": cands[0].score, "candidates": [(k.angle_deg, k.scale, k.score) for k in cands]}
        if not results:
            raise RegistrationFailed("classic: no consistent vessel correspondences found", **details)
        # The most inlier patches wins, among the trusted results when there are any.
        best = max([r for r in results if self._trusted(r)] or results, key=lambda r: len(r.ncc))
        n_in, ratio = len(best.ncc), len(best.ncc) / max(best.attempted, 1)
        details.update(inliers=n_in, inlier_ratio=ratio, matrix=best.matrix.tolist())
        if not self._trusted(best):
            raise RegistrationFailed(
                f"classic: result not trusted ({n_in} inlier patches, {ratio:.0%} of {best.attempted}, "
                f"vessel correlation {best.candidate.score:.2f})",
                **details,
            )
        parts = decompose_affine(best.matrix)
        quality = float(min(1.0, best.candidate.score / 0.5) * min(1.0, n_in / 40) * ratio)
        info = {
            "method": self.name,
            "quality": quality,
            "global_score": best.candidate.score,
            "inliers": n_in,
            "inlier_ratio": ratio,
            "rotation_deg": parts.rotation_deg,
            "scale": parts.scale,
        }
        work = Matches(best.fixed, best.moving, np.clip(best.ncc, 0.0, 1.0), info)
        return work.mapped(np.linalg.inv(f.to_work), np.linalg.inv(m.to_work))
