"""Robust estimation, plausibility checks and the exact working-size <-> original mapping of register_pair."""

from __future__ import annotations

import numpy as np
import pytest

from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed
from vreg_cli.estimate import check_plausible, estimate_transform
from vreg_cli.geometry import affine_matrix, decompose_affine, resize_matrix, warp_points
from vreg_cli.io import resize_long_side
from vreg_cli.methods.base import Matches, Method
from vreg_cli.registration import CONVENTION, match_pair, register_pair


def _matches(m: np.ndarray, n: int = 200, outliers: float = 0.3, noise: float = 0.3, seed: int = 0) -> Matches:
    """n moving points in a 640x640 frame, their images under m (+ noise), a share replaced by random outliers."""
    return _matches_and_outliers(m, n, outliers, noise, seed)[0]


def _matches_and_outliers(
    m: np.ndarray, n: int = 200, outliers: float = 0.3, noise: float = 0.3, seed: int = 0
) -> tuple[Matches, np.ndarray]:
    """:func:`_matches` and which of them are the random outliers, (n,) bool."""
    rng = np.random.default_rng(seed)
    moving = rng.uniform(0, 640, (n, 2))
    fixed = warp_points(m, moving) + rng.normal(0, noise, (n, 2))
    bad = rng.random(n) < outliers
    fixed[bad] = rng.uniform(0, 640, (int(bad.sum()), 2))
    return Matches(fixed, moving, np.ones(n)), bad


@pytest.mark.parametrize(
    ("model", "truth"),
    [
        ("affine", affine_matrix(25, 1.2, (30, -20), shear_deg=5, center=(320, 320))),
        ("similarity", affine_matrix(-140, 0.8, (10, 15), center=(320, 320))),
        (
            "homography",
            affine_matrix(10, 1.1, (5, 5), center=(320, 320)) @ np.array([[1, 0, 0], [0, 1, 0], [2e-4, -1e-4, 1]]),
        ),
    ],
)
def test_estimate_transform_recovers_each_model(model: str, truth: np.ndarray) -> None:
    found, bad = _matches_and_outliers(truth)
    m, inliers = estimate_transform(found, model, threshold_px=3.0, min_inliers=12)
    grid = np.mgrid[0:640:64, 0:640:64].reshape(2, -1).T.astype(float)
    assert np.abs(warp_points(m, grid) - warp_points(truth, grid)).max() < 1.0
    assert inliers[~bad].mean() > 0.95 and inliers[bad].mean() < 0.1


def test_similarity_refit_is_a_similarity_even_for_sheared_data() -> None:
    truth = affine_matrix(30, 1.1, (4, 2), shear_deg=4, center=(320, 320))
    m, _ = estimate_transform(_matches(truth, outliers=0.2), "similarity", threshold_px=6.0, min_inliers=12)
    parts = decompose_affine(m)
    assert abs(parts.shear) < 1e-9 and abs(parts.anisotropy - 1) < 1e-9 and not parts.mirrored
    # a 4 deg shear shows up as about half of it in the best similarity's rotation
    assert abs(parts.rotation_deg - decompose_affine(truth).rotation_deg) < 3.0


def test_estimate_transform_refuses_too_few_or_inconsistent_matches() -> None:
    truth = affine_matrix(5, 1.0, (3, 3))
    with pytest.raises(RegistrationFailed, match="only 5 matches"):
        estimate_transform(_matches(truth, n=5, outliers=0), "affine", threshold_px=3.0, min_inliers=12)
    noise = Matches(*np.random.default_rng(1).uniform(0, 640, (2, 100, 2)), np.ones(100))
    with pytest.raises(RegistrationFailed, match="agree"):
        estimate_transform(noise, "homography", threshold_px=1.0, min_inliers=12)


@pytest.mark.parametrize(
    ("matrix", "words"),
    [
        (affine_matrix(0, 1.0, flip=True, center=(320, 320)), "mirrors"),
        (affine_matrix(0, 1.0, shear_deg=35, center=(320, 320)), "shear"),
        (affine_matrix(0, 3.5, center=(320, 320)), "scale 3.50"),
        (np.diag([1.0, 2.0, 1.0]), "stretches"),
        (affine_matrix(120, 1.0, center=(320, 320)), "max-rotation"),
        (np.array([[1, 0, 0], [0, 1, 0], [1e-3, 0, 1.0]]), "perspective"),
    ],
)
def test_plausibility_rejections(matrix: np.ndarray, words: str) -> None:
    limits = RegistrationContext(max_rotation=90.0)
    with pytest.raises(RegistrationFailed, match=words):
        check_plausible(matrix, (640, 640), 100, 80, limits)


def test_plausible_transform_passes_and_mirror_can_be_allowed() -> None:
    parts = check_plausible(affine_matrix(170, 1.3, center=(320, 320)), (640, 640), 100, 60, RegistrationContext())
    assert abs(parts.rotation_deg - 170) < 1e-6
    flip = affine_matrix(0, 1.0, flip=True, center=(320, 320))
    assert check_plausible(flip, (640, 640), 100, 60, RegistrationContext(allow_mirror=True)).mirrored
    with pytest.raises(RegistrationFailed, match="inliers"):
        check_plausible(np.eye(3), (640, 640), 100, 2, RegistrationContext())


class ExactDouble(Method):
    """Returns matches of a known ORIGINAL-pixel transform, expressed in the working-size pixels it is given."""

    name = "double"

    def __init__(
        self, truth: np.ndarray, fixed_hw: tuple[int, int], moving_hw: tuple[int, int],
        context: RegistrationContext | None = None,
    ) -> None:  # fmt: skip
        super().__init__(None, context)
        self.truth, self.fixed_hw, self.moving_hw = truth, fixed_hw, moving_hw
        self.seen: list[tuple[int, ...]] = []

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        self.seen += [fixed.shape, moving.shape]
        s_f = resize_matrix(self.fixed_hw, fixed.shape[:2])
        s_m = resize_matrix(self.moving_hw, moving.shape[:2])
        pts = np.random.default_rng(0).uniform(0, min(moving.shape[:2]), (60, 2))
        fixed_pts = warp_points(s_f @ self.truth @ np.linalg.inv(s_m), pts)
        return Matches(fixed_pts, pts, np.ones(len(pts)))


def test_register_pair_maps_working_size_back_to_original_pixels_exactly() -> None:
    fixed = np.zeros((301, 517, 3), np.uint8)
    moving = np.zeros((1013, 699), np.uint8)
    truth = affine_matrix(12, 0.45, (40, -10), center=(350, 500))
    method = ExactDouble(
        truth, fixed.shape[:2], moving.shape[:2], RegistrationContext(working_size=256, scale_range=(0.1, 10))
    )
    reg = register_pair(fixed, moving, method)
    assert max(method.seen[0][:2]) == 256 and max(method.seen[1][:2]) == 256
    assert np.allclose(reg.matrix, truth, atol=1e-6)
    assert np.allclose(warp_points(truth, reg.matches.moving), reg.matches.fixed, atol=1e-6)
    assert reg.warp(moving).shape == (301, 517)
    assert np.allclose(match_pair(fixed, moving, method).moving, reg.matches.moving)
    # resize_long_side's matrix is the exact pixel map of the resize (pixel centres)
    _, s = resize_long_side(moving, 256)
    assert np.allclose(warp_points(s, [[-0.5, -0.5], [698.5, 1012.5]]), [[-0.5, -0.5], [s[0, 0] * 699 - 0.5, 255.5]])


def test_to_dict_has_exactly_the_documented_keys() -> None:
    truth = affine_matrix(-30, 1.2, (5, 5), center=(100, 100))
    method = ExactDouble(truth, (200, 200), (200, 200))
    data = register_pair(np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8), method).to_dict()
    assert set(data) == {
        "matrix", "convention", "model", "method", "matches", "inliers", "inlier_ratio", "rotation_deg", "scale",
        "seconds", "produced_by", "decision",
    }  # fmt: skip
    assert data["convention"] == CONVENTION == "moving (x, y, 1) -> fixed pixels, 0-based, x right, y down"
    assert np.allclose(data["matrix"], truth, atol=1e-6) and abs(data["rotation_deg"] + 30) < 1e-3
    assert abs(data["scale"] - 1.2) < 1e-3 and data["inliers"] == data["matches"] == 60 and data["method"] == "double"


def test_implausible_result_carries_the_rejected_registration() -> None:
    truth = affine_matrix(0, 1.0, flip=True, center=(100, 100))
    method = ExactDouble(truth, (200, 200), (200, 200))
    with pytest.raises(RegistrationFailed, match="mirror") as info:
        register_pair(np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8), method)
    refused = info.value.details.registration
    assert refused is not None and np.allclose(refused.matrix, truth, atol=1e-6)
    method.context = RegistrationContext(allow_mirror=True)
    ok = register_pair(np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8), method)
    assert ok.parts.mirrored
