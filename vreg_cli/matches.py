"""Correspondences between a fixed and a moving image: the core type every method returns and every caller reads.

It sits below the methods (``vreg_cli.methods.base`` re-exports it), so the registration core, the outputs and the
API use it without importing any method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vreg_cli.geometry import warp_points
from vreg_cli.provenance import MatchInfo

__all__ = ["Matches"]


@dataclass
class Matches:
    """N correspondences. fixed, moving: (N, 2) float64 pixel coordinates (x, y); confidence: (N,) in [0, 1];
    inliers: (N,) bool flags of a fitted transform (None until a transform was fitted to them, see :meth:`flagged`).
    info: where the matches came from and what the method measured (:class:`~vreg_cli.provenance.MatchInfo`: e.g.
    ``info.produced_by``, ``info.strategy`` for loftr, ``info.quality`` for classic).
    """

    fixed: np.ndarray
    moving: np.ndarray
    confidence: np.ndarray
    info: MatchInfo = field(default_factory=MatchInfo)
    inliers: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.fixed = np.asarray(self.fixed, np.float64).reshape(-1, 2)
        self.moving = np.asarray(self.moving, np.float64).reshape(-1, 2)
        self.confidence = np.asarray(self.confidence, np.float64).reshape(-1)
        if not (len(self.fixed) == len(self.moving) == len(self.confidence)):
            raise ValueError("fixed, moving and confidence must have the same length")
        if self.inliers is not None:
            self.inliers = np.asarray(self.inliers, bool).reshape(-1)
            if len(self.inliers) != len(self.fixed):
                raise ValueError("inliers must have one flag per match")

    def __len__(self) -> int:
        return len(self.fixed)

    @classmethod
    def empty(cls) -> Matches:
        """No matches (N = 0)."""
        return cls(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0))

    def mapped(self, fixed_map: np.ndarray | None = None, moving_map: np.ndarray | None = None) -> Matches:
        """The same matches with each side's points moved by a 3x3 (e.g. working size -> original pixels)."""
        f = self.fixed if fixed_map is None else warp_points(fixed_map, self.fixed)
        m = self.moving if moving_map is None else warp_points(moving_map, self.moving)
        return Matches(f, m, self.confidence.copy(), self.info.copy(), self.inliers)

    def flagged(self, inliers: np.ndarray) -> Matches:
        """The same matches with inlier flags (N,) bool."""
        return Matches(self.fixed, self.moving, self.confidence, self.info.copy(), inliers)

    def subset(self, keep: np.ndarray) -> Matches:
        """The matches selected by ``keep`` (a (N,) bool mask or an index array), with their inlier flags."""
        flags = None if self.inliers is None else self.inliers[keep]
        return Matches(self.fixed[keep], self.moving[keep], self.confidence[keep], self.info.copy(), flags)

    def joined(self, other: Matches) -> Matches:
        """These matches followed by OTHER's (same pixels on each side); the info is this one's."""
        return Matches(
            np.concatenate([self.fixed, other.fixed]), np.concatenate([self.moving, other.moving]),
            np.concatenate([self.confidence, other.confidence]), self.info.copy(),
        )  # fmt: skip
