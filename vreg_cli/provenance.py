"""What a method reports besides its matches: where they came from (:class:`MatchInfo`, on every
:class:`~vreg_cli.matches.Matches` and :class:`~vreg_cli.registration.Registration`) and what was measured before a
refusal (:class:`RefusalDetails`, on every :class:`~vreg_cli.errors.RegistrationFailed`).

Typed fields, not string keys: ``auto`` reads classic's rough start from ``exc.details.global_matrix``, the outputs
read ``info.produced_by`` and ``info.decision``. A field a method does not report keeps its default (None, or "" for
the texts).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    import numpy as np

    from vreg_cli.registration import Registration

__all__ = ["MatchInfo", "RefusalDetails"]


@dataclass
class MatchInfo:
    """Where a method's matches came from and what it measured on them (None / "": not reported by that method).

    Attributes:
        produced_by: the method whose matches these are (``auto``: classic or loftr; "none" when every one refused).
        decision: which method produced the result and why, in one line (``auto``); "" for a requested method.
        strategy: how LoFTR found them (``direct``, ``pre-aligned by the classic ...``, ``rotation search 90 deg``).
        prealign_score: LoFTR: the global vessel correlation of classic's pre-alignment it started from.
        prealign_failed: LoFTR: why the pre-aligned attempt failed before the rotation search ran.
        search: LoFTR's rotation search: agreeing matches per start angle (``{"0": 12, "90": 57, ...}``).
        rough_inliers: LoFTR from a rough start: how many matches agree on one affine (its rough-start check).
        verified_ratio: share of classic's vessel patches that confirm the affine (classic, and LoFTR's check).
        joined_matches: LoFTR pre-aligned by a classic registration: how many of classic's matches were added.
        quality: classic's quality score, 0..1 (see :mod:`vreg_cli.methods.classic`).
        global_score: classic's global vessel correlation of its best hypothesis.
        inliers: classic: its inlier patches (a refusal: the matches that agree with the rejected transform).
        inlier_ratio: classic: inlier patches / patches tried.
        rotation_deg: classic's own estimate of the rotation (deg, OpenCV's sign), in the images' pixels.
        scale: classic's own estimate of the scale moving -> fixed, in the images' pixels.
        keypoints: sift: (fixed, moving) keypoint counts.
        problem: ``match``: why no affine agrees with the matches ("" when one does).
    """

    produced_by: str = ""
    decision: str = ""
    strategy: str = ""
    prealign_score: float | None = None
    prealign_failed: str = ""
    search: dict[str, int] | None = None
    rough_inliers: int | None = None
    verified_ratio: float | None = None
    joined_matches: int | None = None
    quality: float | None = None
    global_score: float | None = None
    inliers: int | None = None
    inlier_ratio: float | None = None
    rotation_deg: float | None = None
    scale: float | None = None
    keypoints: tuple[int, int] | None = None
    problem: str = ""

    def copy(self) -> Self:
        """An independent copy (a shallow one: ``search`` is shared)."""
        return replace(self)

    def merged(self, other: MatchInfo) -> Self:
        """A copy of this one with every field that OTHER reports (not None, not "") taken from OTHER."""
        mine = {f.name for f in fields(self)}
        taken = {f.name: getattr(other, f.name) for f in fields(other) if f.name in mine}
        return replace(self, **{k: v for k, v in taken.items() if _reported(v)})


@dataclass
class RefusalDetails(MatchInfo):
    """What was measured before a method or a check gave up (``RegistrationFailed.details``), besides the refused
    matches' :class:`MatchInfo`.

    Attributes:
        matches: how many correspondences there were (patches tried, for classic).
        global_matrix: classic: its best global hypothesis (3x3, moving -> fixed, the pixels of the images given), a
            rough start for another matcher (``auto``'s LoFTR).
        candidates: classic: every global hypothesis as (angle deg, scale, vessel correlation), best first.
        global_matrices: classic: every global hypothesis as a 3x3 (moving -> fixed, the pixels of the images
            given), in the order of ``candidates``: the ranked rough starts another matcher may try.
        registration: the refused result, when a :class:`~vreg_cli.registration.Registration` was refused
            (:meth:`~vreg_cli.registration.Registration.raise_if_refused`).
    """

    matches: int | None = None
    global_matrix: np.ndarray | None = None
    candidates: list[tuple[float, float, float]] | None = None
    global_matrices: list[np.ndarray] | None = None
    registration: Registration | None = None


def _reported(value: object) -> bool:
    """Whether a field holds a reported value (not None, not the empty text)."""
    return value is not None and not (isinstance(value, str) and value == "")
