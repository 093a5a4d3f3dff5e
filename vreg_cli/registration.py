"""Register one pair: working size -> method.match -> MAGSAC++ -> plausibility -> a :class:`Registration`.

The method carries the registration context it was built with (``vreg_cli.context``): its working size, its
MAGSAC++ settings and its limits are the ones used here. A refusal is a result (``ok=False`` and the reason), not an
exception: :func:`register_images` raises only for bad input and bugs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.estimate import linear_parts
from vreg_cli.geometry import AffineParts, warp_image, warp_points
from vreg_cli.io import resize_long_side
from vreg_cli.matches import Matches
from vreg_cli.provenance import MatchInfo, RefusalDetails

if TYPE_CHECKING:
    from vreg_cli.methods.base import Method

__all__ = [
    "CONVENTION",
    "Registration",
    "match_pair",
    "match_with_inliers",
    "register_images",
    "register_pair",
    "warp_moving",
]


CONVENTION = "moving (x, y, 1) -> fixed pixels, 0-based, x right, y down"


@dataclass(eq=False)
class Registration:
    """One registration result, trusted (``ok``) or refused (``ok=False``, ``reason`` says why).

    All coordinates are ORIGINAL image pixels (0-based, x right, y down).

    Attributes:
        matrix: (3, 3) float64 mapping MOVING (x, y, 1) to FIXED pixels; None when no transform was estimated (the
            method or the robust fit gave up). A refused result keeps the matrix it rejected, when there was one.
        ok: True when the result passed every plausibility limit of the registration context.
        reason: why it was refused ("" when ``ok``).
        matches: the correspondences (N) with ``matches.inliers`` (N,) bool flags of the fitted transform.
        n_matches: how many correspondences the method found (its own count when it gave up before returning any).
        inliers: how many correspondences agree with ``matrix``.
        method: the method that ran, in words (e.g. which weights).
        model: affine | similarity | homography.
        seconds: wall time of the registration (matching, fit and checks; not reading the images).
        parts: rotation / scale / shear of the working-size transform (the field-of-view scale, independent of the
            images' resolutions); None without a matrix.
        fixed_hw, moving_hw: (H, W) of the images registered.
        info: the method's diagnostics (:class:`~vreg_cli.provenance.MatchInfo`, e.g. ``info.strategy`` for loftr);
            for a method's own refusal its :class:`~vreg_cli.provenance.RefusalDetails`.
        fixed_image, moving_image: the registered images (uint8 (H, W) or (H, W, 3)), kept for :meth:`warp`,
            :meth:`checkerboard` and :meth:`overlay`.
    """

    matrix: np.ndarray | None
    ok: bool
    reason: str
    matches: Matches
    n_matches: int
    inliers: int
    method: str
    model: str
    seconds: float
    parts: AffineParts | None
    fixed_hw: tuple[int, int]
    moving_hw: tuple[int, int]
    info: MatchInfo = field(default_factory=MatchInfo)
    fixed_image: np.ndarray | None = field(default=None, repr=False)
    moving_image: np.ndarray | None = field(default=None, repr=False)

    @property
    def inlier_ratio(self) -> float:
        """``inliers / n_matches`` (0 when there are no matches)."""
        return self.inliers / max(self.n_matches, 1)

    @property
    def rotation_deg(self) -> float:
        """Counter-clockwise rotation on screen in degrees (OpenCV's sign); NaN without a matrix."""
        return float(self.parts.rotation_deg) if self.parts is not None else float("nan")

    @property
    def scale(self) -> float:
        """Field-of-view scale moving -> fixed (images at equal long sides); NaN without a matrix."""
        return float(self.parts.scale) if self.parts is not None else float("nan")

    @property
    def produced_by(self) -> str:
        """The method whose matches made this result (``auto``: classic or loftr; "none" when every one refused)."""
        return self.info.produced_by

    @property
    def decision(self) -> str:
        """Which method produced the result and why, in one line (``auto``); "" for a method that was requested."""
        return self.info.decision

    def _matrix(self) -> np.ndarray:
        if self.matrix is None:
            raise ValueError(f"no transform was estimated ({self.reason})")
        return self.matrix

    def to_dict(self) -> dict[str, Any]:
        """The documented transform file (``vreg register --transform-out``): exactly these keys."""
        return {
            "matrix": None if self.matrix is None else [[float(v) for v in row] for row in self.matrix],
            "convention": CONVENTION,
            "model": self.model,
            "method": self.method,
            "matches": self.n_matches,
            "inliers": self.inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "rotation_deg": None if self.parts is None else round(self.rotation_deg, 3),
            "scale": None if self.parts is None else round(self.scale, 4),
            "seconds": round(self.seconds, 3),
            "produced_by": self.produced_by,
            "decision": self.decision,
        }

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """MOVING pixel coordinates (N, 2) (x, y) -> FIXED pixel coordinates (N, 2) float64."""
        return warp_points(self._matrix(), np.asarray(points, np.float64).reshape(-1, 2))

    def warp(self, image: np.ndarray | None = None) -> np.ndarray:
        """``image`` (default: the moving image; any (H', W'[, C]) in the moving frame) resampled into the fixed
        frame: (H, W[, C]) with the fixed image's height and width, same dtype."""
        moving = self.moving_image if image is None else image
        if moving is None:
            raise ValueError("no moving image kept with this result; pass the image to warp")
        return warp_moving(moving, self._matrix(), self.fixed_hw)

    def _pair(self) -> tuple[np.ndarray, np.ndarray]:
        if self.fixed_image is None:
            raise ValueError("no fixed image kept with this result")
        return self.fixed_image, self.warp()

    def checkerboard(self, tiles: int = 8) -> np.ndarray:
        """Alternating tiles of FIXED and the warped MOVING image: (H, W, 3) RGB uint8 in the fixed frame."""
        from vreg_cli.viz import checkerboard

        return checkerboard(*self._pair(), tiles=tiles)

    def overlay(self) -> np.ndarray:
        """FIXED in magenta, the warped MOVING image in green: (H, W, 3) RGB uint8 in the fixed frame."""
        from vreg_cli.viz import overlay

        return overlay(*self._pair())

    def raise_if_refused(self) -> Registration:
        """This result when it is trusted, else RegistrationFailed (exit 3) with the reason (``details.registration``
        = this result)."""
        if not self.ok:
            raise RegistrationFailed(self.reason, RefusalDetails(registration=self))
        return self


def warp_moving(moving: np.ndarray, moving_to_fixed: np.ndarray, fixed_hw: tuple[int, int]) -> np.ndarray:
    """Resample ``moving`` (H', W'[, C]) into a (H, W[, C]) canvas with the fixed image's size."""
    return warp_image(moving, moving_to_fixed, (int(fixed_hw[0]), int(fixed_hw[1])))


def _match_at_working_size(
    fixed: np.ndarray, moving: np.ndarray, method: Method
) -> tuple[Matches, np.ndarray, np.ndarray, tuple[int, int]]:
    """Run ``method`` on both images resized to its context's working size.

    Returns (matches in working pixels, S_fixed, S_moving, moving working (H, W)); S maps original -> working pixels.
    """
    size = method.context.working_size
    fixed_w, s_f = resize_long_side(fixed, size)
    moving_w, s_m = resize_long_side(moving, size)
    found = method.match(fixed_w, moving_w)
    found.info.produced_by = found.info.produced_by or method.name  # ``auto`` names classic or loftr itself
    return found, s_f, s_m, moving_w.shape[:2]


def match_pair(fixed: np.ndarray, moving: np.ndarray, method: Method) -> Matches:
    """Run ``method`` at its working size; the matches come back in ORIGINAL pixel coordinates."""
    found, s_f, s_m, _ = _match_at_working_size(fixed, moving, method)
    return found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m))


def match_with_inliers(fixed: np.ndarray, moving: np.ndarray, method: Method) -> tuple[Matches, str]:
    """``match_pair`` with ``inliers`` flags (N,) bool from the context's affine fit at the working size.

    Returns (matches in ORIGINAL pixels, "" or why no affine agrees: then every flag is False).
    """
    found, s_f, s_m, _ = _match_at_working_size(fixed, moving, method)
    try:
        _, inliers = method.context.fit(found, method.context.working_size, model="affine", min_inliers=3)
        problem = ""
    except RegistrationFailed as exc:
        inliers, problem = np.zeros(len(found), bool), str(exc)
    return found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m)).flagged(inliers), problem


def _refusal_line(method: str, step: str, why: str) -> str:
    """A refusal's one line, naming who refused and the step that decided: ``"<method>, <step>: <why>"``.

    A method's own refusals name their step themselves (``classic, acceptance: ...``, ``loftr, rotation search 90
    deg: ...``, ``auto: classic refused (...); loftr refused too (...)``); STEP is "" for those, and METHOD is
    prefixed only where WHY does not start with it. The registration's own steps after a method's matches are the
    ``transform fit`` (the context's MAGSAC++) and the ``result check`` (the transform's limits)."""
    if not step:
        return why if why.startswith((f"{method}:", f"{method},")) else f"{method}: {why}"
    return f"{method}, {step}: {why}"


def _producer(found: Matches, method: Method) -> str:
    """The method whose matches these are (``auto`` says which of classic and loftr)."""
    return found.info.produced_by or method.name


def register_images(fixed: np.ndarray, moving: np.ndarray, method: Method) -> Registration:
    """Register MOVING onto FIXED (uint8 (H, W) or (H, W, 3) at any size) with ``method``.

    Working size, MAGSAC++ threshold and limits come from ``method.context``. A result that is not trusted comes
    back with ``ok=False`` and the reason (with the rejected matrix when one was estimated); only bad input and bugs
    raise.
    """
    context = method.context
    start = time.perf_counter()
    common: dict[str, Any] = {
        "method": method.describe(), "model": context.model, "fixed_hw": fixed.shape[:2],
        "moving_hw": moving.shape[:2], "fixed_image": fixed, "moving_image": moving,
    }  # fmt: skip
    try:
        found, s_f, s_m, moving_hw_w = _match_at_working_size(fixed, moving, method)
    except RegistrationFailed as exc:  # the method found nothing it trusts
        details = exc.details.copy()
        details.produced_by = details.produced_by or method.name  # ``auto`` refusing says "none"
        return Registration(
            matrix=None, ok=False, reason=_refusal_line(method.name, "", str(exc)),
            matches=Matches.empty().flagged(np.zeros(0, bool)),
            n_matches=details.matches or 0, inliers=details.inliers or 0,
            seconds=time.perf_counter() - start, parts=None, info=details, **common,
        )  # fmt: skip
    original = found.mapped(np.linalg.inv(s_f), np.linalg.inv(s_m))
    try:
        m_work, inliers = context.fit(found, context.working_size)
    except RegistrationFailed as exc:  # too few matches agree on one transform
        why = _refusal_line(_producer(found, method), "transform fit", str(exc))
        return Registration(
            matrix=None, ok=False, reason=why, matches=original.flagged(np.zeros(len(found), bool)),
            n_matches=len(found), inliers=exc.details.inliers or 0, seconds=time.perf_counter() - start,
            parts=None, info=found.info.copy(), **common,
        )  # fmt: skip
    m_orig = np.linalg.inv(s_f) @ m_work @ s_m
    m_orig /= m_orig[2, 2]
    n_inliers = int(np.count_nonzero(inliers))
    try:
        context.check(m_work, moving_hw_w, len(found), n_inliers)
        ok, reason = True, ""
    except RegistrationFailed as exc:
        ok, reason = False, _refusal_line(_producer(found, method), "result check", str(exc))
    return Registration(
        matrix=m_orig, ok=ok, reason=reason, matches=original.flagged(inliers), n_matches=len(found),
        inliers=n_inliers, seconds=time.perf_counter() - start, parts=linear_parts(m_work, moving_hw_w),
        info=found.info.copy(), **common,
    )  # fmt: skip


def register_pair(fixed: np.ndarray, moving: np.ndarray, method: Method) -> Registration:
    """:func:`register_images`, raising RegistrationFailed (exit 3) for a refused result: for scripts and tests
    that treat a refusal as an error (``details.registration`` holds the refused result)."""
    return register_images(fixed, moving, method).raise_if_refused()
