"""Where LoFTR starts from: classic's pre-alignment (``ClassicPrealigner``) or the rotation search's candidate
similarities (``rotation_candidates``), and the overlap box that a pre-aligned pair is matched in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import center_similarity, decompose_affine
from vreg_cli.methods.base import Matches
from vreg_cli.provenance import RefusalDetails

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext

__all__ = [
    "ClassicPrealigner", "PrealignFn", "Prealignment", "hypothesis_starts", "overlap_box", "rotation_candidates"
]  # fmt: skip


@dataclass(frozen=True)
class Prealignment:
    """Where a pre-aligner puts MOVING: ``matrix`` (3x3, moving -> fixed, the pixels of the images given), its
    global correlation ``score``, and whether it is a ``refined`` (trusted) registration or only a rough estimate."""

    matrix: np.ndarray
    score: float
    refined: bool = False
    matches: Matches | None = None  # a refined registration's own agreeing matches (given pixels), when it has them
    #: a rough start's ranked alternatives: every global hypothesis of classic (3x3, moving -> fixed), best first
    ranked: tuple[np.ndarray, ...] = ()


PrealignFn = Callable[[np.ndarray, np.ndarray], Prealignment]


class ClassicPrealigner:
    """The classic method's registration (its affine), else, when classic does not trust it, its best global
    hypothesis (a similarity), rejected when that hypothesis' correlation is too weak.

    Built for the same registration context as the LoFTR method, so its search covers the same rotations and scales.
    """

    def __init__(self, context: RegistrationContext | None = None) -> None:
        from vreg_cli.methods.classic import ClassicMethod

        self.classic = ClassicMethod(context=context)

    def __call__(self, fixed: np.ndarray, moving: np.ndarray) -> Prealignment:
        try:
            found = self.classic.match(fixed, moving)
            matrix, _ = self.classic.context.fit(found, max(fixed.shape[:2]), model="affine")
            return Prealignment(matrix, found.info.global_score or 0.0, refined=True, matches=found)
        except RegistrationFailed as exc:
            return self.rough_start(exc.details)

    def rough_start(self, refused: RefusalDetails) -> Prealignment:
        """The best global hypothesis of a pair classic REFUSED (its ``global_matrix``, 3x3, moving -> fixed) as a
        rough start, with the ranked ones (``global_matrices``) as its alternatives; RegistrationFailed when there is
        none or its correlation is under classic's ``min_score`` (the ranked hypotheses then travel in the
        refusal's details, for the rotation search)."""
        matrix, score = refused.global_matrix, refused.global_score or 0.0
        ranked = tuple(np.asarray(m, np.float64) for m in refused.global_matrices or ())
        if matrix is None or score < self.classic.options.min_score:
            why = f"classic pre-alignment too weak (correlation {score:.2f})"
            raise RegistrationFailed(why, RefusalDetails(global_score=score, global_matrices=list(ranked)))
        return Prealignment(np.asarray(matrix, dtype=np.float64), score, ranked=ranked)


def hypothesis_starts(
    ranked: tuple[np.ndarray, ...] | list[np.ndarray], count: int, fixed_hw: tuple[int, int],
    moving_hw: tuple[int, int], context: RegistrationContext,
) -> list[tuple[str, np.ndarray]]:  # fmt: skip
    """The rotation search's starts from classic's RANKED hypotheses: (label, moving -> fixed-frame similarity) for
    the first COUNT with a distinct rotation and scale (10 deg, 1.15x apart) inside the context's rotation and scale
    range (with the search's margins), each turned and scaled as its hypothesis, centred on the fixed frame. Its
    translation is dropped: LoFTR finds it over the whole fixed frame, which a start shifted off the truth (matched
    only in its overlap) cannot. Label: "classic hypothesis K (R deg, scale S)", K its rank from 1."""
    lo, hi = context.scale_range
    kept: list[tuple[float, float]] = []
    starts: list[tuple[str, np.ndarray]] = []
    for rank, matrix in enumerate(ranked, 1):
        if len(starts) >= count:
            break
        parts = decompose_affine(matrix)
        angle, scale = parts.rotation_deg, parts.scale
        if parts.mirrored or abs(angle) > context.max_rotation + 10 or not lo / 1.25 <= scale <= hi * 1.25:
            continue
        if any(abs((angle - a + 180) % 360 - 180) < 10 and max(scale / s, s / scale) < 1.15 for a, s in kept):
            continue
        kept.append((angle, scale))
        label = f"classic hypothesis {rank} ({angle:.0f} deg, scale {scale:.2f})"
        starts.append((label, center_similarity(moving_hw, fixed_hw, angle, scale)))
    return starts


def overlap_box(valid: np.ndarray, min_share: float = 0.02, margin: int = 8, min_side: int = 64) -> tuple[int, ...]:
    """(x0, y0, x1, y1) around the rows/columns where more than ``min_share`` of the pixels are valid.

    valid: (H, W) bool. Isolated noise pixels do not widen the box; a box under ``min_side`` px gives the frame.
    """
    h, w = valid.shape
    rows = np.flatnonzero(valid.mean(axis=1) > min_share)
    cols = np.flatnonzero(valid.mean(axis=0) > min_share)
    if len(rows) == 0 or len(cols) == 0:
        return 0, 0, w, h
    x0, x1 = max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)
    y0, y1 = max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)
    if x1 - x0 < min_side or y1 - y0 < min_side:
        return 0, 0, w, h
    return int(x0), int(y0), int(x1), int(y1)


def rotation_candidates(
    context: RegistrationContext, step: float, fixed_hw: tuple[int, int], moving_hw: tuple[int, int]
) -> list[tuple[float, np.ndarray]]:
    """The rotation search's starts: (angle, moving -> fixed-frame similarity) for every k * STEP deg within the
    context's rotation, smallest |angle| first, at scale 1 (else the middle of the context's scale range)."""
    lo, hi = context.scale_range
    scale = 1.0 if lo <= 1.0 <= hi else float(np.sqrt(lo * hi))
    base = max(fixed_hw) / max(moving_hw)  # same long side -> same field of view at scale 1
    count = max(1, int(round(360.0 / step)))
    angles = sorted({((k * step + 180.0) % 360.0) - 180.0 for k in range(count)}, key=abs)
    angles = [a for a in angles if abs(a) <= context.max_rotation + 0.5 * step] or [0.0]
    return [(a, center_similarity(moving_hw, fixed_hw, a, scale * base)) for a in angles]
