"""The one interface every registration method implements: (fixed, moving) -> correspondences.

A method only finds corresponding points. Robust estimation (MAGSAC++), plausibility checks and warping live in
``retinareg.registration`` so that every method is judged the same way. Each method holds the registration context it
was built with (``retinareg.context``): the working size the caller resizes to, the search limits (rotation, scale)
and the one MAGSAC++ fit a method uses when it scores its own candidates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from retinareg.geometry import warp_points

if TYPE_CHECKING:
    from retinareg.context import RegistrationContext


@dataclass
class Matches:
    """N correspondences. fixed, moving: (N, 2) float64 pixel coordinates (x, y); confidence: (N,) in [0, 1];
    inliers: (N,) bool flags of a fitted transform (None until a transform was fitted to them, see :meth:`flagged`).
    """

    fixed: np.ndarray
    moving: np.ndarray
    confidence: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
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
        return cls(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0))

    def mapped(self, fixed_map: np.ndarray | None = None, moving_map: np.ndarray | None = None) -> Matches:
        """The same matches with each side's points moved by a 3x3 (e.g. working size -> original pixels)."""
        f = self.fixed if fixed_map is None else warp_points(fixed_map, self.fixed)
        m = self.moving if moving_map is None else warp_points(moving_map, self.moving)
        return Matches(f, m, self.confidence.copy(), dict(self.info), self.inliers)

    def flagged(self, inliers: np.ndarray) -> Matches:
        """The same matches with inlier flags (N,) bool."""
        return Matches(self.fixed, self.moving, self.confidence, dict(self.info), inliers)

    def subset(self, keep: np.ndarray) -> Matches:
        flags = None if self.inliers is None else self.inliers[keep]
        return Matches(self.fixed[keep], self.moving[keep], self.confidence[keep], dict(self.info), flags)

    def joined(self, other: Matches) -> Matches:
        """These matches followed by OTHER's (same pixels on each side); the info is this one's."""
        return Matches(
            np.concatenate([self.fixed, other.fixed]), np.concatenate([self.moving, other.moving]),
            np.concatenate([self.confidence, other.confidence]), dict(self.info),
        )  # fmt: skip


class Method(ABC):
    """A registration method. Subclasses set ``name`` and implement ``match``.

    ``match`` receives the fixed image (CF: (H, W, 3) RGB or (H, W) grey uint8) and the moving image (FA / OCT:
    (H', W') or (H', W', 3) uint8) at the working size and returns correspondences in those images' pixel
    coordinates. It raises ``retinareg.errors.RegistrationFailed`` when it finds nothing it trusts. Methods are built
    by the registry (``retinareg.methods.build_method``) with a context; a method matches at the size it is given.
    """

    name: ClassVar[str]

    def __init__(self, context: RegistrationContext | None = None) -> None:
        from retinareg.context import RegistrationContext

        self.context = context if context is not None else RegistrationContext()

    @abstractmethod
    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches: ...

    def describe(self) -> str:
        """One line for logs and reports (e.g. which weights)."""
        return self.name
