"""Plain SIFT + Lowe's ratio test on grey CLAHE images: the naive reference every other method should beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

import cv2
import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.io import clahe_gray
from vreg_cli.limits import Range, check_fields
from vreg_cli.methods.base import Matches, Method
from vreg_cli.provenance import MatchInfo, RefusalDetails

__all__ = ["SiftMethod"]


if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class SiftOptions:
    """The sift method's options (``sift:ratio=0.75``).

    Options:
        ratio: Lowe's ratio test: keep a match when best / second-best distance is below this
        max_features: most SIFT keypoints per image
    """

    ratio: Annotated[float, Range(0, 1, open_lo=True)] = 0.8
    max_features: Annotated[int, Range(2, 100_000)] = 4000

    def __post_init__(self) -> None:
        check_fields(self)  # the Range of each field (vreg_cli.limits)


class SiftMethod(Method):
    """OpenCV SIFT keypoints, brute-force L2 matching, ratio test; no rotation or modality handling beyond SIFT's."""

    name: ClassVar[str] = "sift"
    Options = SiftOptions
    options: SiftOptions

    def describe(self) -> str:
        return f"sift (ratio {self.options.ratio:g})"

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Matches in the given images' pixels; confidence = 1 - (best / second-best distance)."""
        sift = cv2.SIFT_create(nfeatures=self.options.max_features)  # type: ignore[attr-defined]  # not in cv2's stubs
        kp_f, des_f = sift.detectAndCompute(clahe_gray(fixed), None)
        kp_m, des_m = sift.detectAndCompute(clahe_gray(moving), None)
        if des_f is None or des_m is None or len(kp_f) < 2 or len(kp_m) < 2:
            why = "sift, keypoints: too few found (blank or featureless image?)"
            raise RegistrationFailed(why, RefusalDetails(matches=0))
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_m, des_f, k=2)
        good = [(a, a.distance / max(b.distance, 1e-9)) for a, b in (p for p in pairs if len(p) == 2)]
        good = [(a, r) for a, r in good if r < self.options.ratio]
        if not good:
            return Matches.empty()
        fixed_pts = np.array([kp_f[a.trainIdx].pt for a, _ in good])
        moving_pts = np.array([kp_m[a.queryIdx].pt for a, _ in good])
        conf = np.array([1.0 - r for _, r in good])
        return Matches(fixed_pts, moving_pts, conf, MatchInfo(keypoints=(len(kp_f), len(kp_m))))
