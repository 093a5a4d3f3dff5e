"""Where LoFTR starts from: classic's pre-alignment (``ClassicPrealigner``) or the rotation search's candidate
similarities (``rotation_candidates``), and the overlap box that a pre-aligned pair is matched in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import center_similarity
from vreg_cli.methods.base import Matches
from vreg_cli.provenance import RefusalDetails

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext

__all__ = ["ClassicPrealigner", "PrealignFn", "Prealignment", "overlap_box", "rotation_candidates"]


@dataclass(frozen=True)
class Prealignment:
    """Where a pre-aligner puts MOVING: ``matrix`` (3x3, moving -> fixed, the pixels of the images given), its
    global correlation ``score``, and whether it is a ``refined`` (trusted) registration or only a rough estimate."""

    matrix: np.ndarray
    score: float
    refined: bool = False
    matches: Matches | None = None  # a refined registration's own agreeing matches (given pixels), when it has them


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
            return self.rough_start(exc.details.global_matrix, exc.details.global_score or 0.0)

    def rough_start(self, matrix: np.ndarray | None, score: float) -> Prealignment:
        """Classic's global estimate MATRIX (3x3, moving -> fixed) as a rough start, or RegistrationFailed when there is
        none or its correlation SCORE is under classic's ``min_score``."""
        if matrix is None or score < self.classic.options.min_score:
            why = f"classic pre-alignment too weak (correlation {score:.2f})"
            raise RegistrationFailed(why, RefusalDetails(global_score=score))
        return Prealignment(np.asarray(matrix, dtype=np.float64), score)


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
