"""LoFTR at any in-plane rotation and over a field-of-view scale range.

LoFTR is not rotation invariant (it fails past about 45 deg). Strategy, measured in benchmarks/bench_register.py:

1. pre-align: the weight-free ``classic`` registration maps MOVING onto FIXED (its trusted result, else only its
   global estimate); MOVING is warped into the fixed frame, LoFTR matches the pre-aligned pair (near 0 deg, near
   scale 1, where it is good), and the matched points are mapped back through the inverse pre-alignment, so the
   matches are MOVING -> FIXED directly. LoFTR is more accurate the closer the pre-alignment: from a rough (global)
   start a second pass pre-aligns with the affine of the first pass's matches (``passes``), and the passes after
   the first match at ``refine_factor`` times the size; a trusted classic registration stands in for that first
   pass, and its own agreeing vessel-patch matches join LoFTR's for the final fit (``join``);
2. if the pre-alignment fails (or its matches do not agree on a transform), a rotation search: MOVING is turned by
   k * ``rotation_step`` about its centre into the fixed frame, every candidate is matched against the SAME fixed
   features (``match_many``), the candidate with most MAGSAC++ inliers wins, and a large residual rotation is
   refined by one more pre-aligned pass.
A result from a rough start (the global estimate, or the search) is trusted only when enough of its matches agree
(``rough_min_inliers``) and classic's vessel patches, searched again in a wide window around its affine, confirm it
(``rough_min_verified``, classic's verification pass): matches from a wrong start agree among themselves by chance,
vessel patches do not. The registration context's ``max_rotation`` / ``scale_range`` narrow this: a narrow context
(|rotation| <= 30 deg, scale 0.7-1.4) skips both. Candidates are scored with the context's MAGSAC++ fit. The matcher
is injectable: any callable (fixed_gray, moving_gray) -> Matches; so is the verifier.

Options: :mod:`~vreg_cli.methods.loftr.options`; the starts (classic's pre-alignment, the rotation search's
candidates): :mod:`~vreg_cli.methods.loftr.prealign`; the trust rules of a rough start:
:mod:`~vreg_cli.methods.loftr.rough_start`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.geometry import decompose_affine, translation_matrix, warp_image
from vreg_cli.io import to_gray
from vreg_cli.methods.base import Matches, Method
from vreg_cli.methods.loftr.options import PREALIGN_MODES, LoFTROptions
from vreg_cli.methods.loftr.prealign import (
    ClassicPrealigner,
    PrealignFn,
    Prealignment,
    hypothesis_starts,
    overlap_box,
    rotation_candidates,
)
from vreg_cli.methods.loftr.rough_start import RoughStartCheck, VerifyFn
from vreg_cli.paths import BUNDLED_LOFTR

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext

__all__ = ["LoFTRMethod"]


_MatchFn = Callable[[np.ndarray, np.ndarray], Matches]
#: a residual rotation (deg) beyond this after the rotation search gets one more pre-aligned pass
_REFINE_DEG = 10.0


@dataclass(frozen=True)
class _View:
    """One call's view of the pair, built in ``LoFTRMethod.match`` and passed down (never stored on the method, so
    one method serves several threads): the network's inputs for the fixed and the moving image (grey (H, W) uint8,
    or their vessel maps) and the matcher's resize factors for the whole fixed frame (``scale``) and for the later
    pre-aligned passes (``refine_scale``, ``refine_factor`` times larger, at most 1); None: the matcher decides."""

    fixed: np.ndarray
    moving: np.ndarray
    scale: float | None
    refine_scale: float | None


def _load_matcher(options: LoFTROptions) -> tuple[_MatchFn, str]:
    """The network the options name (else the bundled model) as a matcher, and a label saying which file it is."""
    from vreg_cli.methods.loftr.matcher import LoFTRMatcher
    from vreg_cli.model.device import resolve_device

    path = options.checkpoint or options.weights
    if not path:
        if not BUNDLED_LOFTR.is_file():
            raise VregError(
                f"loftr needs weights: --weights FILE, --checkpoint FILE or VREG_WEIGHTS ({BUNDLED_LOFTR} is "
                "missing from this checkout)"
            )
        path = str(BUNDLED_LOFTR)
    device = str(resolve_device(options.device, option="loftr:device"))
    matcher = LoFTRMatcher.from_file(path, size=options.size, device=device)
    kind = "checkpoint" if options.checkpoint else "weights" if options.weights else "bundled"
    return matcher, f"loftr ({kind} {path})"


class LoFTRMethod(Method):
    """LoFTR matches with rotation/scale handling (see the module docstring). Images arrive at the working size."""

    name: ClassVar[str] = "loftr"
    Options = LoFTROptions
    options: LoFTROptions

    def __init__(
        self,
        options: LoFTROptions | None = None,
        context: RegistrationContext | None = None,
        *,
        matcher: _MatchFn | None = None,
        prealigner: PrealignFn | None = None,
        verifier: VerifyFn | None = None,
    ) -> None:
        """The method with these options for ``context``; the network is loaded from the weights the options name
        (else the bundled model) unless a ``matcher`` is given: any callable (fixed_gray, moving_gray) -> Matches.
        ``prealigner`` / ``verifier`` replace classic's pre-alignment and verification pass (tests, experiments)."""
        super().__init__(options, context)
        if self.options.prealign not in PREALIGN_MODES:
            raise VregError(f"loftr prealign={self.options.prealign!r}; choose one of {', '.join(PREALIGN_MODES)}")
        if matcher is None:
            matcher, self.label = _load_matcher(self.options)
        else:
            self.label = "loftr"
        self.matcher = matcher
        self._prealigner = prealigner if prealigner is not None else ClassicPrealigner(self.context)
        self._verifier = verifier if verifier is not None else self._classic_verifier()

    def describe(self) -> str:
        return self.label

    @property
    def prealigner(self) -> PrealignFn:
        """The injected pre-aligner, else the classic global estimate (built with the method: no state changes
        during a call, so one method serves several threads)."""
        return self._prealigner

    @property
    def verifier(self) -> VerifyFn:
        """The injected verifier, else classic's verification pass."""
        return self._verifier

    def _classic_verifier(self) -> VerifyFn:
        from vreg_cli.methods.classic import ClassicMethod

        classic = ClassicMethod(context=self.context)
        return lambda fixed, moving, matrix: classic.verify(fixed, moving, matrix).ratio

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Matches MOVING -> FIXED in the given images' pixels; ``info.strategy`` says how they were found."""
        return self.match_from(fixed, moving, self.prealigner)

    def match_from(self, fixed: np.ndarray, moving: np.ndarray, prealigner: PrealignFn) -> Matches:
        """:meth:`match` with PREALIGNER for this call (``auto`` hands in classic's rough start of a refused pair)."""
        fg, mg = to_gray(fixed), to_gray(moving)
        # what the network sees (grey, or vessel maps for a vessels model), computed once on the whole images
        to_input = getattr(self.matcher, "model_input", None)
        # crops of the fixed frame are matched at the whole frame's pixel size (what the network was trained at)
        scale_for = getattr(self.matcher, "scale_for", None)
        scale = scale_for(fg.shape) if scale_for is not None else None
        inputs = _View(
            fixed=to_input(fg) if to_input is not None else fg,
            moving=to_input(mg) if to_input is not None else mg,
            scale=scale,
            refine_scale=None if scale is None else min(1.0, scale * self.options.refine_factor),
        )
        mode = "none" if self.options.prealign == "auto" and self.context.narrow else self.options.prealign
        if mode == "none":
            return self._tag(self.matcher(inputs.fixed, inputs.moving), "direct")
        prealign_failed = ""
        ranked: tuple[np.ndarray, ...] | list[np.ndarray] = ()  # classic's ranked hypotheses, for the search
        if mode in ("auto", "classic"):
            try:
                pre = prealigner(fixed, moving)
                ranked = pre.ranked
                self._check_limits(pre.matrix, moving.shape[:2])
                found = self._match_refined(fg, mg, pre.matrix, inputs, refined=pre.refined)
                start = "classic registration" if pre.refined else "classic global estimate"
                found = self._tag(found, f"pre-aligned by the {start}", prealign_score=pre.score)
                if pre.refined:
                    if mode == "classic" or self._inliers(found, fixed.shape) >= self.context.min_inliers:
                        return self._joined(found, pre)  # (too few inliers: the context refuses it in mode classic)
                    prealign_failed = f"from the {start}, too few matches agree"
                elif mode == "classic":  # no search to fall back on
                    return self._supported(found, fixed, moving)
                else:
                    doubt = self._rough_doubt(found, fixed, moving)
                    if doubt is None:
                        return found
                    prealign_failed = f"from the {start}, {doubt}"
            except RegistrationFailed as exc:
                if mode == "classic":
                    raise
                prealign_failed = str(exc)
                ranked = ranked or exc.details.global_matrices or ()
        return self._supported(self._rotation_search(fg, mg, prealign_failed, inputs, ranked), fixed, moving)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _run(self, fixed_in: np.ndarray, moving_in: np.ndarray, scale: float | None) -> Matches:
        """The matcher on two images of the fixed frame (crops included), at the frame's scale when it has one."""
        if scale is None:
            return self.matcher(fixed_in, moving_in)
        scaled: Callable[..., Matches] = self.matcher  # a scale comes only from a matcher with scale_for: it takes one
        return scaled(fixed_in, moving_in, scale=scale)

    def _rough_doubt(self, found: Matches, fixed: np.ndarray, moving: np.ndarray) -> str | None:
        """Why FOUND, a result from a rough start, is not trusted (None: trusted); see :mod:`.rough_start`."""
        return self._rough_check().doubt(found, fixed, moving)

    def _supported(self, found: Matches, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """FOUND when ``_rough_doubt`` finds nothing; else RegistrationFailed (a refusal, not a chance alignment)."""
        return self._rough_check().supported(found, fixed, moving)

    def _rough_check(self) -> RoughStartCheck:
        return RoughStartCheck(
            self.context, self.options.rough_min_inliers, self.options.rough_min_verified, self.verifier
        )

    def _joined(self, found: Matches, pre: Prealignment) -> Matches:
        """FOUND with the pre-aligner's own matches added (``join``), else FOUND."""
        if not self.options.join or pre.matches is None or not len(pre.matches):
            return found
        joined = found.joined(pre.matches)
        joined.info.joined_matches = len(pre.matches)
        return joined

    @staticmethod
    def _tag(
        found: Matches,
        strategy: str,
        prealign_score: float | None = None,
        prealign_failed: str = "",
        search: dict[str, int] | None = None,
    ) -> Matches:
        """FOUND with how it was found in its info (``strategy``, and the start's figures where there are some)."""
        found.info.strategy = strategy
        if prealign_score is not None:
            found.info.prealign_score = prealign_score
        if prealign_failed:
            found.info.prealign_failed = prealign_failed
        if search is not None:
            found.info.search = search
        return found

    def _check_limits(self, pre: np.ndarray, moving_hw: tuple[int, int]) -> None:
        parts = decompose_affine(pre)
        lo, hi = self.context.scale_range
        if abs(parts.rotation_deg) > self.context.max_rotation + 0.5 * self.options.step or not (
            lo / 1.25 <= parts.scale <= hi * 1.25
        ):
            raise RegistrationFailed(
                f"pre-alignment outside the search range (rotation {parts.rotation_deg:.0f} deg, scale "
                f"{parts.scale:.2f})"
            )

    def _inliers(self, found: Matches, fixed_hw: tuple[int, ...]) -> int:
        """How many of ``found`` agree on one affine (the context's MAGSAC++ fit at the fixed frame's size)."""
        return self.context.inlier_count(found, max(fixed_hw[:2]))

    def _match_prealigned(
        self,
        fg: np.ndarray,
        mg: np.ndarray,
        pre: np.ndarray,
        inputs: _View,
        refining: bool = False,
    ) -> Matches:
        """Warp MOVING into the fixed frame with ``pre``, match inside the overlap, map back through pre^-1.

        Only the bounding box where both images have content is matched: LoFTR's cost grows with the pixels, and
        a partial overlap (CF vs a smaller OCT field) or black borders would otherwise be matched for nothing.
        ``inputs``: the network's view of (fixed, moving) (= the grey images, or their vessel maps) and its scales
        (``refining``: the later passes' scale).
        """
        warped = warp_image(mg, pre, fg.shape[:2])
        x0, y0, x1, y1 = overlap_box((fg > 8) & (warped > 8))
        fixed_in, moving_in = inputs.fixed, warp_image(inputs.moving, pre, fg.shape[:2])
        scale = inputs.refine_scale if refining else inputs.scale
        found = self._run(fixed_in[y0:y1, x0:x1], moving_in[y0:y1, x0:x1], scale)
        shift = translation_matrix(x0, y0)
        return found.mapped(shift, np.linalg.inv(pre) @ shift)

    def _match_refined(
        self,
        fg: np.ndarray,
        mg: np.ndarray,
        pre: np.ndarray,
        inputs: _View,
        refined: bool = False,
    ) -> Matches:
        """``_match_prealigned``, then more passes, each pre-aligned with the affine of the last one's matches; a pass
        replaces the last only when at least as many matches agree. ``passes`` in all from a rough ``pre``; from a
        ``refined`` one (a trusted registration, which stands in for the first pass) ``max(1, passes - 1)``, all at
        the later passes' size."""
        found = self._match_prealigned(fg, mg, pre, inputs, refining=refined)
        side = max(fg.shape[:2])
        for _ in range((max(1, self.options.passes - 1) if refined else self.options.passes) - 1):
            try:
                m, inliers = self.context.fit(found, side, model="affine")
            except RegistrationFailed:
                break
            again = self._match_prealigned(fg, mg, m, inputs, refining=True)
            if self._inliers(again, fg.shape) < int(inliers.sum()):
                break
            found = again
        return found

    def _candidates(self, fixed_hw: tuple[int, int], moving_hw: tuple[int, int]) -> list[tuple[float, np.ndarray]]:
        """(angle, moving -> fixed-frame similarity) for every k * step within the allowed rotation."""
        return rotation_candidates(self.context, self.options.step, fixed_hw, moving_hw)

    def _rotation_search(
        self, fg: np.ndarray, mg: np.ndarray, prealign_failed: str, inputs: _View,
        ranked: tuple[np.ndarray, ...] | list[np.ndarray] = (),
    ) -> Matches:  # fmt: skip
        """The best start of the rotation search (the most agreeing matches), refined when its residual rotation is
        large; PREALIGN_FAILED (why the pre-aligned attempt failed, or "") goes into the result's info. The starts:
        classic's RANKED hypotheses (``starts`` of them, :func:`hypothesis_starts`), then every ``step`` degrees;
        all are matched against the same fixed features."""
        ranked_starts = hypothesis_starts(ranked, self.options.starts, fg.shape[:2], mg.shape[:2], self.context)
        grid = [(f"{a:g}", pre) for a, pre in self._candidates(fg.shape[:2], mg.shape[:2])]
        candidates = ranked_starts + grid
        fixed_in, scale = inputs.fixed, inputs.scale
        warped = [warp_image(inputs.moving, pre, fg.shape[:2]) for _, pre in candidates]
        many = getattr(self.matcher, "match_many", None)
        if many is None:
            results = [self._run(fixed_in, w, scale) for w in warped]
        else:
            results = many(fixed_in, warped) if scale is None else many(fixed_in, warped, scale=scale)
        scores = [self._inliers(found, fg.shape) for found in results]
        best = int(np.argmax(scores))  # the first of equal counts: a ranked hypothesis before the grid
        label, pre = candidates[best]
        start = label if best < len(ranked_starts) else f"rotation search {label} deg"
        found = results[best].mapped(moving_map=np.linalg.inv(pre))
        search = {a: s for (a, _), s in zip(candidates, scores, strict=True)}

        def tag(result: Matches, strategy: str) -> Matches:
            return self._tag(result, strategy, prealign_failed=prealign_failed, search=search)

        if scores[best] < 3:
            return tag(found, "rotation search (nothing agreed)")
        # A residual rotation far from 0 deg (true angle between two steps) is matched again from a closer start.
        try:
            m, _ = self.context.fit(found, max(fg.shape[:2]), model="similarity", min_inliers=3)
        except RegistrationFailed:
            return tag(found, start)
        residual = decompose_affine(m @ np.linalg.inv(pre))
        if abs(residual.rotation_deg) > _REFINE_DEG or not 0.8 <= residual.scale <= 1.25:
            refined = self._match_refined(fg, mg, m, inputs)
            if self._inliers(refined, fg.shape) >= scores[best]:
                return tag(refined, f"{start} + refine")
        return tag(found, start)
