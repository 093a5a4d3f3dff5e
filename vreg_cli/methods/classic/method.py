"""``ClassicMethod``: the classic pipeline (see the package docstring) run hypothesis by hypothesis."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import decompose_affine
from vreg_cli.methods.base import Matches, Method
from vreg_cli.methods.classic.acceptance import doubts, few_patches, weak
from vreg_cli.methods.classic.options import ClassicOptions, scaled_copy
from vreg_cli.methods.classic.refine import Refined, Verification, patch_step, refine, verified
from vreg_cli.methods.classic.search import Hypothesis, Prepared, given_pixels, hypotheses, prepare, resized
from vreg_cli.provenance import MatchInfo, RefusalDetails

__all__ = ["ClassicMethod"]


class ClassicMethod(Method):
    """Vessel-map global search + patch refinement; see the package docstring."""

    name = "classic"
    Options = ClassicOptions
    options: ClassicOptions

    def describe(self) -> str:
        lo, hi = self.context.scale_range
        return f"classic (vessel maps, rotation +-{self.context.max_rotation:g} deg, scale {lo:g}-{hi:g})"

    def _settings(self, fixed: np.ndarray) -> ClassicOptions:
        """The settings for this pair: pixel sizes scaled to the fixed image's long side (the size given)."""
        return self.options.at_side(max(fixed.shape[:2]))

    def global_estimate(self, fixed: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, float]:
        """Best similarity from the global search alone: (3x3 moving->fixed in input pixels, correlation score)."""
        c = self._settings(fixed)
        f = prepare(c, fixed, max(fixed.shape[:2]))
        best = hypotheses(self.context, c, f, moving)[0]
        return given_pixels(best.candidate.matrix, f, best.moving), best.candidate.score

    def _refine(self, c: ClassicOptions, f: Prepared, hyp: Hypothesis) -> Refined | None:
        """HYP refined and verified (:func:`vreg_cli.methods.classic.refine.refine`); None when it cannot be fitted."""
        return refine(self.context, c, f, hyp)

    def _doubts(self, c: ClassicOptions, r: Refined) -> list[str]:
        """Why R is not trusted (empty: trusted); :func:`vreg_cli.methods.classic.acceptance.doubts`."""
        return doubts(self.context, c, r)

    def _trusted(self, c: ClassicOptions, r: Refined) -> bool:
        return not self._doubts(c, r)

    def _settled(self, c: ClassicOptions, r: Refined) -> bool:
        """R is trusted and not weak: no further hypothesis needs refining. A weak trusted result does not settle
        the search, since a wrong hypothesis near the truth can refine into one (see ``match``)."""
        return self._trusted(c, r) and not weak(c, r)

    def verify(self, fixed: np.ndarray, moving: np.ndarray, matrix: np.ndarray) -> Verification:
        """How well vessel patches confirm MATRIX (3x3, moving -> fixed, the pixels of the images given), an
        estimate found by any method: classic's verification pass on the moving level closest to the fixed
        image's pixel size (see :func:`vreg_cli.methods.classic.refine.verified`)."""
        c = self._settings(fixed)
        f = prepare(c, fixed, max(fixed.shape[:2]))
        levels = sorted(set(c.moving_levels) | {1.0})
        # the estimate's scale at the working size (the resize alone, no vessel map), and the level whose pixels
        # match the fixed image's there
        _, to_one = resized(moving, max(fixed.shape[:2]))
        s = decompose_affine(f.to_work @ matrix @ np.linalg.inv(to_one)).scale
        r = min(levels, key=lambda lv: abs(math.log(s / lv)))
        m = prepare(c, moving, max(fixed.shape[:2]), r)
        mat = f.to_work @ matrix @ np.linalg.inv(m.to_work)
        agree, attempted = verified(self.context, c, f, m, mat, patch_step(c, f, m, mat))
        return Verification(agree, attempted)

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Inlier patch correspondences (input pixels) of the best refined hypothesis; RegistrationFailed if none
        is trusted."""
        c = self._settings(fixed)
        f = prepare(c, fixed, max(fixed.shape[:2]))
        hyps = hypotheses(self.context, c, f, moving)
        cands = [h.candidate for h in hyps]
        results: list[Refined] = []
        for k, hyp in enumerate(hyps[: c.refine_candidates + c.more_candidates]):
            if k >= c.refine_candidates and any(self._settled(c, r) for r in results):
                break  # the further candidates are only for when the best few all failed or are weak
            r = self._refine(c, f, hyp)
            if r is not None and self._doubts(c, r) == [few_patches(c)] and c.sparse_min_content < c.min_content:
                # refused only for too few patches: search the patches with less vessel content too
                again = self._refine(scaled_copy(c, min_content=c.sparse_min_content), f, hyp)
                r = again if again is not None and self._trusted(c, again) else r
            if r is not None:
                results.append(r)
                if self._settled(c, r) and len(r.ncc) >= c.clear_inlier_ratio * r.attempted:
                    break  # clearly right: refining the runner-up is not worth its time
        details = RefusalDetails(
            global_score=cands[0].score,
            candidates=[(k.angle_deg, k.scale, k.score) for k in cands],
            # the best global hypothesis in the pixels of the images given (a rough start for another matcher)
            global_matrix=given_pixels(cands[0].matrix, f, hyps[0].moving),
            global_matrices=[given_pixels(h.candidate.matrix, f, h.moving) for h in hyps],
        )
        if not results:
            why = "no hypothesis gives consistent vessel correspondences"
            raise RegistrationFailed(f"classic, refinement: {why}", details)
        # The most inlier patches wins, among the trusted results when there are any.
        best = max([r for r in results if self._trusted(c, r)] or results, key=lambda r: len(r.ncc))
        n_in, ratio = len(best.ncc), len(best.ncc) / max(best.attempted, 1)
        if not self._trusted(c, best):
            details = replace(
                details, matches=best.attempted, inliers=n_in, inlier_ratio=ratio, verified_ratio=best.verified_ratio
            )
            raise RegistrationFailed(
                f"classic, acceptance: result not trusted ({n_in} inlier patches, {ratio:.0%} of {best.attempted}, "
                f"{best.verified_ratio:.0%} verified, vessel correlation {best.candidate.score:.2f}: "
                f"{', '.join(self._doubts(c, best))})",
                details,
            )
        parts = decompose_affine(given_pixels(best.matrix, f, best.moving_level))
        quality = float(min(1.0, best.candidate.score / 0.5) * min(1.0, n_in / 40) * ratio)
        info = MatchInfo(
            quality=quality,
            global_score=best.candidate.score,
            inliers=n_in,
            inlier_ratio=ratio,
            verified_ratio=best.verified_ratio,
            rotation_deg=parts.rotation_deg,
            scale=parts.scale,
        )
        work = Matches(best.fixed, best.moving, np.clip(best.ncc, 0.0, 1.0), info)
        return work.mapped(np.linalg.inv(f.to_work), np.linalg.inv(best.moving_level.to_work))
