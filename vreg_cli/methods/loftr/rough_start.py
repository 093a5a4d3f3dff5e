"""When a LoFTR result from a rough start (classic's global estimate, or the rotation search) is trusted.

Matches from a wrong start agree among themselves by chance far more easily than independent vessel patches
searched in a wide window do: such a result needs ``loftr:rough_min_inliers`` agreeing matches and a share
``loftr:rough_min_verified`` of classic's vessel patches confirming its affine (the measurements behind both are
next to the fields in :mod:`vreg_cli.methods.loftr.options`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.methods.base import Matches
from vreg_cli.provenance import MatchInfo, RefusalDetails

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext

__all__ = ["RoughStartCheck", "VerifyFn"]


# (fixed, moving, 3x3 moving -> fixed) -> the share of vessel patches that confirm the estimate (classic's check)
VerifyFn = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class RoughStartCheck:
    """The trust rules of a rough-start result: ``min_inliers`` agreeing matches (the context's MAGSAC++ affine) and
    a share ``min_verified`` (0: not checked) of vessel patches that ``verifier`` finds confirming that affine."""

    context: RegistrationContext
    min_inliers: int
    min_verified: float
    verifier: VerifyFn

    def doubt(self, found: Matches, fixed: np.ndarray, moving: np.ndarray) -> str | None:
        """Why FOUND, a result from a rough start, is not trusted (None: trusted). It needs ``min_inliers``
        agreeing matches, and at least ``min_verified`` of classic's vessel patches must confirm its affine:
        LoFTR's matches from a wrong start agree among themselves by chance far more easily than independent
        vessel patches searched in a wide window do."""
        no_fit: RegistrationFailed | None
        try:  # one fit gives both the inlier count and the affine that classic's patches check
            matrix, inliers = self.context.fit(found, max(fixed.shape[:2]), model="affine", min_inliers=3)
            n, no_fit = int(inliers.sum()), None
        except RegistrationFailed as exc:
            matrix, n, no_fit = None, 0, exc
        found.info.rough_inliers = n
        if n < self.min_inliers:
            need = self.min_inliers
            return f"{n} inlier matches; from a rough start (not a registration classic trusted) it needs {need}"
        if self.min_verified > 0:
            if matrix is None:
                assert no_fit is not None  # matrix is None only where the fit failed
                raise no_fit  # no affine at all (only reachable with rough_min_inliers=0)
            share = self.verifier(fixed, moving, matrix)
            found.info.verified_ratio = share
            if share < self.min_verified:
                return (
                    f"{n} inlier matches from a rough start, but only {share:.0%} of classic's vessel patches "
                    f"confirm their affine (need {self.min_verified:.0%})"
                )
        return None

    def supported(self, found: Matches, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """FOUND when :meth:`doubt` finds nothing; else RegistrationFailed (a refusal, not a chance alignment)."""
        doubt = self.doubt(found, fixed, moving)
        if doubt is not None:
            # the refusal's counts are this result's (matches >= inliers), whatever an earlier method reported
            details = RefusalDetails().merged(found.info)
            details.matches, details.inliers = len(found), found.info.rough_inliers
            raise RegistrationFailed(refusal(found.info, doubt), details)
        return found


def refusal(info: MatchInfo, doubt: str) -> str:
    """The one line of a rough-start refusal: the step that decided (INFO's ``strategy``: the pre-aligned start or
    the rotation search) and its DOUBT, then what happened to the pre-aligned attempt when the search came after it."""
    text = f"loftr, {info.strategy or 'search'}: {doubt}"
    if info.prealign_failed:
        text += f"; before it, the pre-aligned attempt failed: {info.prealign_failed}"
    return text
