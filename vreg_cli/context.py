"""The registration context: the one owner of the working size, the robust-estimation settings and the limits.

Every caller (``register``, ``match``, batch mode, ``benchmark``, training validation) builds one
:class:`RegistrationContext` and hands it to the method registry (``vreg_cli.methods.build_method``); every method
matches at the size it is given, every MAGSAC++ fit goes through :meth:`RegistrationContext.fit`, and a result is
trusted when :meth:`RegistrationContext.check` accepts it. A limit changed here changes it everywhere.

Pixel sizes (``threshold_px``) are given at :data:`REFERENCE_SIDE` and scale with the long side of the images a fit
runs on, so a 320 px working size uses a 1.5 px threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any

from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.limits import MAX_WORKING_SIZE, MIN_WORKING_SIZE, Range, check_fields

if TYPE_CHECKING:  # numpy, OpenCV (estimate, geometry) load when a fit runs, not when the CLI reads these defaults
    import numpy as np

    from vreg_cli.geometry import AffineParts
    from vreg_cli.matches import Matches

__all__ = ["MODELS", "REFERENCE_SIDE", "RegistrationContext"]


#: the transform models a registration can fit (``estimate.estimate_transform``)
MODELS: tuple[str, ...] = ("affine", "similarity", "homography")

#: the long side (px) at which pixel settings are stated (threshold_px here, classic's patch sizes, ...)
REFERENCE_SIDE = 640


@dataclass(frozen=True, kw_only=True)
class RegistrationContext:
    """How a pair is matched, fitted and judged.

    model: the transform fitted moving -> fixed (affine | similarity | homography).
    working_size: long side (px) both images are resized to before matching.
    threshold_px: MAGSAC++ inlier threshold at a 640 px long side (scaled with the images a fit runs on).
    min_inliers / min_inlier_ratio: the least support a trusted transform has.
    scale_range: allowed moving -> fixed scale at the working size (equal long sides), i.e. the field-of-view ratio;
        it also bounds the methods' scale searches.
    max_rotation: largest |rotation| in degrees a method searches and a result may have (180 = any).
    max_anisotropy, max_shear, max_perspective, allow_mirror: what a retinal registration may look like.
    """

    model: str = "affine"
    working_size: Annotated[int, Range(MIN_WORKING_SIZE, MAX_WORKING_SIZE)] = 640
    threshold_px: Annotated[float, Range(0, 100, open_lo=True)] = 3.0
    min_inliers: Annotated[int, Range(3, 100_000)] = 12
    min_inlier_ratio: Annotated[float, Range(0, 1)] = 0.05
    scale_range: Annotated[tuple[float, float], Range(0.01, 100, open_lo=True, min_items=2, max_items=2)] = (0.4, 2.5)
    max_anisotropy: Annotated[float, Range(1, 100)] = 1.5
    max_shear: Annotated[float, Range(0, 100)] = 0.35
    max_rotation: Annotated[float, Range(0, 180)] = 180.0
    max_perspective: Annotated[float, Range(0, 100)] = 0.3
    allow_mirror: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        check_fields(self)  # the Range of each field (vreg_cli.limits); MAX_WORKING_SIZE bounds memory
        lo, hi = self.scale_range
        if not lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")
        object.__setattr__(self, "scale_range", (float(lo), float(hi)))

    @classmethod
    def from_options(cls, **settings: Any) -> RegistrationContext:
        """The context of user-given settings (None = the default); a bad value is one VregError line."""
        try:
            return cls().with_changes(**settings)
        except ValueError as exc:
            raise VregError(str(exc)) from None

    def with_changes(self, **changes: Any) -> RegistrationContext:
        """A copy with some settings changed (None values are ignored), validated again."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def pixels(self, value: float, long_side: int) -> float:
        """A pixel size stated at :data:`REFERENCE_SIDE` expressed for images with this long side."""
        return value * long_side / REFERENCE_SIDE

    def threshold_for(self, long_side: int) -> float:
        """The MAGSAC++ threshold (px) for images with this long side."""
        return self.pixels(self.threshold_px, long_side)

    @property
    def narrow(self) -> bool:
        """True when the caller promises near-upright, near-same-scale images (|rotation| <= 30, scale 0.7-1.4)."""
        lo, hi = self.scale_range
        return self.max_rotation <= 30.0 and lo >= 0.7 and hi <= 1.4

    def fit(
        self, matches: Matches, long_side: int, *, model: str | None = None, min_inliers: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The one MAGSAC++ fit: (M (3, 3) moving -> fixed, inliers (N,) bool) on images with this long side.

        ``model`` / ``min_inliers`` override the context's for internal checks (e.g. a method scoring candidates);
        raises RegistrationFailed when too few matches agree.
        """
        from vreg_cli.estimate import estimate_transform

        return estimate_transform(
            matches,
            model or self.model,
            self.threshold_for(long_side),
            self.min_inliers if min_inliers is None else min_inliers,
        )

    def inlier_count(self, matches: Matches, long_side: int, *, model: str = "affine", min_inliers: int = 3) -> int:
        """How many matches agree on one transform (0 when none does): a method's score for a candidate."""
        try:
            return int(self.fit(matches, long_side, model=model, min_inliers=min_inliers)[1].sum())
        except RegistrationFailed:
            return 0

    def check(self, m: np.ndarray, moving_hw: tuple[int, int], n_matches: int, n_inliers: int) -> AffineParts:
        """Raise RegistrationFailed saying why ``m`` (working pixels) is not believable; else return its parts."""
        from vreg_cli.estimate import check_plausible

        return check_plausible(m, moving_hw, n_matches, n_inliers, self)
