"""LoFTR method: rotation handling with a matcher double that is only correct near 0 deg, and the real model's
plumbing with checkpoints the tests create (random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from vreg_cli.context import RegistrationContext
from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import affine_matrix, warp_image, warp_points
from vreg_cli.methods import build_method
from vreg_cli.methods.base import Matches
from vreg_cli.methods.loftr import LoFTRMethod, LoFTROptions
from vreg_cli.methods.loftr.matcher import LoFTRMatcher
from vreg_cli.methods.loftr.prealign import Prealignment
from vreg_cli.registration import register_pair

pytestmark = pytest.mark.usefixtures("one_thread")


SIZE = 96
CENTRE = ((SIZE - 1) / 2, (SIZE - 1) / 2)


def ncc_matcher(fixed: np.ndarray, moving: np.ndarray) -> Matches:
    """Template matching of fixed patches within +-8 px of the same place: right only when nearly aligned."""
    half, radius = 7, 8
    f_pts, m_pts, conf = [], [], []
    for y in range(half + radius, fixed.shape[0] - half - radius, 6):
        for x in range(half + radius, fixed.shape[1] - half - radius, 6):
            patch = fixed[y - half : y + half + 1, x - half : x + half + 1]
            if patch.std() < 8:
                continue
            window = moving[y - half - radius : y + half + radius + 1, x - half - radius : x + half + radius + 1]
            score = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
            _, peak, _, (dx, dy) = cv2.minMaxLoc(score)
            if peak > 0.7:
                f_pts.append((x, y))
                m_pts.append((x + dx - radius, y + dy - radius))
                conf.append(peak)
    return Matches(np.array(f_pts, float), np.array(m_pts, float), np.array(conf)) if f_pts else Matches.empty()


@pytest.fixture(scope="module")
def rotated_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fixed, moving = fixed turned 90 deg and shifted, truth moving -> fixed); crop inside the field of view."""
    fa = make_triplet(3, size=160)["fa"]
    fixed = np.ascontiguousarray(fa[32:128, 32:128])
    fixed_to_moving = affine_matrix(90, 1.0, (3, -2), center=CENTRE)
    moving = warp_image(fixed, fixed_to_moving, fixed.shape)
    return fixed, moving, np.linalg.inv(fixed_to_moving)


def _error(reg_matrix: np.ndarray, truth: np.ndarray) -> float:
    grid = np.mgrid[8:SIZE:8, 8:SIZE:8].reshape(2, -1).T.astype(float)
    return float(np.abs(warp_points(reg_matrix, grid) - warp_points(truth, grid)).max())


CONFIG = RegistrationContext(working_size=SIZE)


def test_the_double_fails_at_90_degrees(rotated_pair) -> None:
    fixed, moving, _ = rotated_pair
    with pytest.raises(RegistrationFailed):
        register_pair(fixed, moving, LoFTRMethod(LoFTROptions(prealign="none"), CONFIG, matcher=ncc_matcher))


def test_rotation_search_recovers_a_90_degree_pair(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    method = LoFTRMethod(LoFTROptions(prealign="search"), CONFIG, matcher=ncc_matcher)
    reg = register_pair(fixed, moving, method)
    assert _error(reg.matrix, truth) < 2.0
    assert reg.info.strategy.startswith("rotation search") and abs(abs(reg.parts.rotation_deg) - 90) < 1.5
    assert set(reg.info.search or {}) == {"0", "90", "-90", "-180"}


def test_prealignment_is_composed_back_to_the_original_moving_pixels(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    rough = affine_matrix(8, 1.05, (3, -2), center=CENTRE) @ truth  # a pre-alignment 8 deg / 5% / 4 px off
    method = LoFTRMethod(LoFTROptions(), CONFIG, matcher=ncc_matcher, prealigner=lambda f, m: Prealignment(rough, 1.0))
    reg = register_pair(fixed, moving, method)
    assert reg.info.strategy == "pre-aligned by the classic global estimate"
    assert _error(reg.matrix, truth) < 2.0


def _misfit(fixed: np.ndarray, moving: np.ndarray) -> float:
    """Mean absolute grey difference where both images have content."""
    both = (fixed > 8) & (moving > 8)
    return float(np.abs(fixed.astype(float) - moving.astype(float))[both].mean())


def test_a_second_pass_is_prealigned_with_the_first_passes_affine(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    rough = affine_matrix(8, 1.05, (3, -2), center=CENTRE) @ truth
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def recording(f: np.ndarray, m: np.ndarray) -> Matches:
        seen.append((f, m))
        return ncc_matcher(f, m)

    def method(passes: int) -> LoFTRMethod:
        return LoFTRMethod(
            LoFTROptions(passes=passes), CONFIG, matcher=recording, prealigner=lambda f, m: Prealignment(rough, 1.0)
        )

    one = register_pair(fixed, moving, method(1))
    assert len(seen) == 1
    seen.clear()
    two = register_pair(fixed, moving, method(2))
    assert len(seen) == 2
    # the second pass sees MOVING warped with the first pass's estimate, much closer to FIXED than the rough one
    assert _misfit(*seen[1]) < 0.5 * _misfit(*seen[0])
    assert two.inliers >= one.inliers
    assert _error(two.matrix, truth) < 2.0


def test_a_second_pass_with_less_agreement_is_dropped(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    rough = affine_matrix(4, 1.0, (2, 1), center=CENTRE) @ truth
    rng = np.random.default_rng(0)
    calls = {"n": 0}

    def worse_later(f: np.ndarray, m: np.ndarray) -> Matches:
        calls["n"] += 1
        if calls["n"] == 1:
            return ncc_matcher(f, m)
        pts = rng.uniform(0, f.shape[0], (40, 2))
        return Matches(pts, rng.uniform(0, f.shape[0], (40, 2)), np.ones(40))

    method = LoFTRMethod(
        LoFTROptions(passes=2), CONFIG, matcher=worse_later, prealigner=lambda f, m: Prealignment(rough, 1.0)
    )
    reg = register_pair(fixed, moving, method)
    assert calls["n"] == 2 and _error(reg.matrix, truth) < 2.0


class _ScaledMatcher:
    """``ncc_matcher`` behind the matcher interface that resizes (``scale_for`` / ``scale=``); records the scales.

    The images are matched as given (the double ignores the scale), so only the scale each pass asks for is tested.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.scales: list[float | None] = []

    def scale_for(self, frame_hw: tuple[int, ...]) -> float:
        return min(1.0, self.size / max(frame_hw[:2]))

    def __call__(self, fixed: np.ndarray, moving: np.ndarray, scale: float | None = None) -> Matches:
        self.scales.append(scale)
        return ncc_matcher(fixed, moving)


def test_later_passes_match_at_refine_factor_times_the_first_passes_size(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    rough = affine_matrix(6, 1.04, (2, -1), center=CENTRE) @ truth

    def run(refined: bool = False, passes: int = 3, **options: float) -> list[float | None]:
        matcher = _ScaledMatcher(size=48)
        start = Prealignment(rough, 1.0, refined=refined)
        method = LoFTRMethod(
            LoFTROptions(passes=passes, **options), CONFIG, matcher=matcher, prealigner=lambda f, m: start
        )
        reg = register_pair(fixed, moving, method)
        assert _error(reg.matrix, truth) < 2.0
        return matcher.scales

    assert run(refine_factor=1.0) == [0.5, 0.5, 0.5]  # the model's size (48 of the 96 px frame) for every pass
    assert run() == [0.5, 0.75, 0.75]  # the default: the later passes at 1.5x
    assert run(refine_factor=3.0) == [0.5, 1.0, 1.0]  # never enlarged beyond the frame
    # a trusted registration as the start stands in for the first pass: the others run at the later passes' size
    assert run(refined=True) == [0.75, 0.75]
    assert run(refined=True, passes=2) == [0.75]
    assert run(refined=True, passes=1) == [0.75]


def test_a_rough_start_needs_more_agreeing_matches_than_classics_registration(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    near = affine_matrix(4, 1.0, (2, 1), center=CENTRE) @ truth

    def refuses(f: np.ndarray, m: np.ndarray) -> Prealignment:
        raise RegistrationFailed("no vessels")

    def method(prealigner: Any, need: int) -> LoFTRMethod:
        return LoFTRMethod(LoFTROptions(rough_min_inliers=need), CONFIG, matcher=ncc_matcher, prealigner=prealigner)

    enough = register_pair(fixed, moving, method(refuses, 12))  # the rotation search, well supported
    assert _error(enough.matrix, truth) < 2.0
    need = int(enough.inliers) + 1
    # the refusal names the step that decided, and what happened to the pre-aligned attempt before the search
    decided = {
        refuses: r"^loftr, rotation search [^:]*: \d+ inlier matches; from a rough start .* needs \d+; before it, "
        r"the pre-aligned attempt failed: no vessels$",
        lambda f, m: Prealignment(near, 1.0): r"^loftr, rotation search [^:]*: \d+ inlier matches; .*; before it, "
        r"the pre-aligned attempt failed: from the classic global estimate, \d+ inlier matches; from a rough start "
        r"\(not a registration classic trusted\) it needs \d+$",
    }
    for rough, line in decided.items():  # the search, a global estimate
        with pytest.raises(RegistrationFailed, match=line):
            register_pair(fixed, moving, method(rough, need))
    # a start that classic trusted needs only the context's support
    trusted = register_pair(fixed, moving, method(lambda f, m: Prealignment(near, 1.0, refined=True), need))
    assert _error(trusted.matrix, truth) < 2.0


def test_a_rough_start_needs_classics_vessel_patches_to_confirm_the_result(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    near = affine_matrix(4, 1.0, (2, 1), center=CENTRE) @ truth
    asked: list[np.ndarray] = []

    def verifier(share: float) -> Any:
        def verify(f: np.ndarray, m: np.ndarray, matrix: np.ndarray) -> float:
            asked.append(matrix)
            return share

        return verify

    def method(prealigner: Any, share: float) -> LoFTRMethod:
        return LoFTRMethod(
            LoFTROptions(rough_min_inliers=3),
            CONFIG,
            matcher=ncc_matcher,
            prealigner=prealigner,
            verifier=verifier(share),
        )

    def rough(f: np.ndarray, m: np.ndarray) -> Prealignment:  # a global estimate
        return Prealignment(near, 1.0)

    confirmed = register_pair(fixed, moving, method(rough, 0.5))
    assert _error(confirmed.matrix, truth) < 2.0 and confirmed.info.verified_ratio == 0.5
    assert (confirmed.info.rough_inliers or 0) >= 3  # the count of the check's own fit (rough_min_inliers=3), kept
    assert _error(asked[-1], truth) < 2.0  # the verifier judged LoFTR's own estimate, not the start
    with pytest.raises(RegistrationFailed, match="confirm"):  # the global estimate's, then the search's result
        register_pair(fixed, moving, method(rough, 0.05))
    # a start that classic trusted is its own verification
    asked.clear()
    register_pair(fixed, moving, method(lambda f, m: Prealignment(near, 1.0, refined=True), 0.0))
    assert asked == []


def test_join_adds_classics_matches_only_to_a_start_classic_trusted(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    near = affine_matrix(4, 1.0, (2, 1), center=CENTRE) @ truth
    pts = np.array([[40.0, 50.0], [90.0, 60.0], [70.0, 100.0]])
    own = Matches(warp_points(truth, pts), pts, np.full(3, 0.9))  # classic's agreeing patches (given pixels)

    def method(refined: bool, join: bool) -> LoFTRMethod:
        start = Prealignment(near, 1.0, refined=refined, matches=own)
        return LoFTRMethod(
            LoFTROptions(join=join, rough_min_verified=0), CONFIG, matcher=ncc_matcher, prealigner=lambda f, m: start
        )

    alone = method(True, False).match(fixed, moving)
    joined = method(True, True).match(fixed, moving)
    assert len(joined) == len(alone) + 3 and joined.info.joined_matches == 3
    np.testing.assert_allclose(joined.moving[-3:], pts)
    assert method(False, True).match(fixed, moving).info.joined_matches is None  # a rough start is not joined


def test_partial_overlap_is_matched_in_the_overlap_box_only(rotated_pair) -> None:
    fixed, _, _ = rotated_pair
    # MOVING shows the central half of FIXED at twice the resolution, turned 90 deg (a smaller field of view)
    fixed_to_moving = affine_matrix(-90, 2.0, (0, 0), center=CENTRE)
    moving = warp_image(fixed, fixed_to_moving, fixed.shape)
    truth = np.linalg.inv(fixed_to_moving)
    seen: list[tuple[int, ...]] = []

    def recording(f: np.ndarray, m: np.ndarray) -> Matches:
        seen.append(f.shape)
        return ncc_matcher(f, m)

    rough = affine_matrix(4, 1.0, (2, 1), center=CENTRE) @ truth
    reg = register_pair(
        fixed,
        moving,
        LoFTRMethod(LoFTROptions(), CONFIG, matcher=recording, prealigner=lambda f, m: Prealignment(rough, 1.0)),
    )
    assert max(seen[0]) < 0.8 * SIZE  # about the central 48 px (+ margins), not the whole frame
    assert _error(reg.matrix, truth) < 2.0 and abs(reg.parts.scale - 0.5) < 0.02


def test_failed_or_wrong_prealignment_falls_back_to_the_search(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair

    def refuses(f: np.ndarray, m: np.ndarray) -> Prealignment:
        raise RegistrationFailed("no vessels")

    wrong = affine_matrix(180, 1.0, center=CENTRE) @ truth
    for prealigner in (refuses, lambda f, m: Prealignment(wrong, 1.0)):
        reg = register_pair(
            fixed, moving, LoFTRMethod(LoFTROptions(), CONFIG, matcher=ncc_matcher, prealigner=prealigner)
        )
        assert reg.info.strategy.startswith("rotation search") and reg.info.prealign_failed != ""
        assert _error(reg.matrix, truth) < 2.0


def test_the_search_starts_from_classics_ranked_hypotheses_with_their_rotation_and_scale() -> None:
    """A pair at 45 deg and 1.25x: the 90-degree grid at scale 1 misses it; classic's second hypothesis (right turn
    and scale, its translation 30 px off) registers it, centred on the frame, and the strategy names its rank."""
    fa = make_triplet(3, size=160)["fa"]
    fixed = np.ascontiguousarray(fa[32:128, 32:128])
    fixed_to_moving = affine_matrix(45, 1.25, (3, -2), center=CENTRE)
    moving = warp_image(fixed, fixed_to_moving, fixed.shape)
    truth = np.linalg.inv(fixed_to_moving)
    wrong = affine_matrix(180, 1.0, center=CENTRE) @ truth
    near = affine_matrix(0, 1.0, (30, 0)) @ truth  # the right turn and scale, shifted off the truth
    starts = (wrong, wrong @ affine_matrix(3, 1.0, center=CENTRE), near)

    def rough(f: np.ndarray, m: np.ndarray) -> Prealignment:
        return Prealignment(wrong, 1.0, ranked=starts)

    grid_only = LoFTRMethod(LoFTROptions(), CONFIG, matcher=ncc_matcher, prealigner=rough)
    with pytest.raises(RegistrationFailed):
        register_pair(fixed, moving, grid_only)
    ranked = LoFTRMethod(LoFTROptions(starts=3), CONFIG, matcher=ncc_matcher, prealigner=rough)
    reg = register_pair(fixed, moving, ranked)
    # the second start repeats the first's turn and scale (3 deg apart): dropped, so the near one keeps its rank, 3
    assert reg.info.strategy.startswith("classic hypothesis 3 (-45 deg, scale 0.80)"), reg.info.strategy
    assert _error(reg.matrix, truth) < 2.0
    assert set(reg.info.search or {}) >= {"0", "90", "-90", "-180"}  # the grid stays, after the ranked starts


def test_hypothesis_starts_keep_distinct_turns_and_scales_inside_the_context() -> None:
    from vreg_cli.methods.loftr.prealign import hypothesis_starts

    context = RegistrationContext(max_rotation=180, scale_range=(0.5, 2.0))
    ranked = [
        affine_matrix(30, 1.0, (40, 0)),
        affine_matrix(34, 1.05, (-40, 9)),  # the same turn and scale as the first: dropped
        affine_matrix(30, 1.3, (0, 0)),  # another scale: kept
        affine_matrix(30, 4.0, (0, 0)),  # outside the scale range: dropped
        affine_matrix(-120, 1.0, (0, 0)),
    ]
    starts = hypothesis_starts(ranked, 8, (100, 100), (50, 50), context)
    assert [label.split(" (")[0] for label, _ in starts] == [
        "classic hypothesis 1", "classic hypothesis 3", "classic hypothesis 5"
    ]  # fmt: skip
    _, first = starts[0]
    np.testing.assert_allclose(warp_points(first, np.array([[24.5, 24.5]])), [[49.5, 49.5]])  # centre on centre
    assert len(hypothesis_starts(ranked, 2, (100, 100), (50, 50), context)) == 2
    assert hypothesis_starts(ranked, 0, (100, 100), (50, 50), context) == []


def test_max_rotation_narrows_the_search(rotated_pair) -> None:
    fixed, moving, _ = rotated_pair
    narrow = LoFTRMethod(
        LoFTROptions(), RegistrationContext(max_rotation=20, scale_range=(0.8, 1.2)), matcher=ncc_matcher
    )
    assert narrow.match(fixed, moving).info.strategy == "direct"
    limited = LoFTRMethod(LoFTROptions(prealign="search"), RegistrationContext(max_rotation=100), matcher=ncc_matcher)
    assert {a for a, _ in limited._candidates((SIZE, SIZE), (SIZE, SIZE))} == {0.0, 90.0, -90.0}


# ---- the real LoFTR model (random weights: plumbing, shapes, coordinates) -------------------------------------


def _random_model(thr: float = 0.0):
    from vreg_cli.model.loftr import LoFTRConfig, LoFTRModel

    torch.manual_seed(0)
    return LoFTRModel(LoFTRConfig(thr=thr)).eval()


def test_match_many_reuses_fixed_features_and_equals_single_matching() -> None:
    rng = np.random.default_rng(0)
    fixed, a, b = (rng.integers(0, 255, (70, 77), dtype=np.uint8) for _ in range(3))
    matcher = LoFTRMatcher(_random_model())
    single = [matcher(fixed, a), matcher(fixed, b)]
    images_seen: list[int] = []  # images through the backbone: FIXED once, then each candidate
    hook = matcher.model.backbone.register_forward_hook(lambda _m, args, _o: images_seen.append(len(args[0])))
    many = matcher.match_many(fixed, [a, b])
    hook.remove()
    assert images_seen == [1, 1, 1]
    assert len(single[0]) > 0
    for s, m in zip(single, many, strict=True):
        assert np.allclose(s.fixed, m.fixed, atol=1e-3) and np.allclose(s.moving, m.moving, atol=1e-3)
        # cropped to 64x72 (multiples of 8): every point lies inside the original image
        assert (s.fixed.max(0) < [77, 70]).all() and (s.fixed.min(0) >= 0).all()


def dot_image(hw: tuple[int, int], centres: np.ndarray, peaks: list[int], sigma: float = 3.0) -> np.ndarray:
    """(H, W) uint8: a black image with a Gaussian dot of each peak brightness at each (x, y) centre."""
    ys, xs = np.indices(hw, dtype=np.float64)
    img = np.zeros(hw)
    for (x, y), peak in zip(centres, peaks, strict=True):
        img = np.maximum(img, peak * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return np.round(img).astype(np.uint8)


def _dots(img: np.ndarray) -> list[tuple[float, float]]:
    """Centroids (x, y) of the dots of a [0, 1] image, brightest first."""
    n, labels = cv2.connectedComponents((img > 2.5 / 255).astype(np.uint8))
    ys, xs = np.indices(img.shape)
    found = []
    for k in range(1, n):
        w = np.where(labels == k, img, 0.0)
        found.append((w.max(), (w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()))
    return [(x, y) for _, x, y in sorted(found, reverse=True)]


class DotModel:
    """A LoFTRModel double that is right by construction: it matches the dots of the two images it is given, the
    brightest to the brightest and so on, at their centroids in its own input pixels. So whatever LoFTRMatcher
    does around the model (resizing, cropping to multiples of 8, batching) must be undone exactly."""

    def eval(self) -> DotModel:
        return self

    def extract_features(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def match(self, image0: torch.Tensor, image1: torch.Tensor, features0: object = None) -> dict[str, torch.Tensor]:
        kp0: list[tuple[float, float]] = []
        kp1: list[tuple[float, float]] = []
        batch: list[int] = []
        for b in range(len(image1)):
            a, c = _dots(image0[b, 0].numpy()), _dots(image1[b, 0].numpy())
            n = min(len(a), len(c))
            kp0, kp1, batch = kp0 + a[:n], kp1 + c[:n], batch + [b] * n
        return {
            "keypoints0": torch.tensor(kp0, dtype=torch.float32).reshape(-1, 2),
            "keypoints1": torch.tensor(kp1, dtype=torch.float32).reshape(-1, 2),
            "confidence": torch.ones(len(batch)),
            "batch_indexes": torch.tensor(batch, dtype=torch.long),
        }


DOTS = np.array([[14.3, 12.6], [111.7, 20.2], [62.4, 51.8], [20.9, 83.1], [117.2, 88.4]])
PEAKS = [250, 215, 180, 145, 110]


def test_internal_size_maps_points_back_to_the_callers_pixels() -> None:
    # 130x100 run at a 64 px long side (64x49, cropped to 64x48): every match must land on its dot in the caller's
    # pixels, to a tenth of a pixel (a scalar instead of the exact per-axis map, or a lost half-pixel, is 0.4-0.5 px)
    truth = affine_matrix(7, 0.92, (2.5, -1.7), center=(64.5, 49.5))  # fixed -> moving
    fixed = dot_image((100, 130), DOTS, PEAKS)
    moving = dot_image((100, 130), warp_points(truth, DOTS), PEAKS)
    found = LoFTRMatcher(DotModel(), size=64)(fixed, moving)
    np.testing.assert_allclose(found.fixed, DOTS, atol=0.1)
    np.testing.assert_allclose(found.moving, warp_points(truth, DOTS), atol=0.1)


def test_match_many_gives_each_candidate_its_own_matches() -> None:
    # 77x70 (cropped to 72x64), two candidates in one batch: batch indexes and crops are undone per candidate
    dots, peaks = np.array([[22.3, 20.6], [52.7, 17.2], [37.4, 35.8], [20.9, 47.1]]), PEAKS[:4]
    fixed = dot_image((70, 77), dots, peaks)
    truths = [affine_matrix(5, 1.0, (3, 2), center=(38, 34.5)), affine_matrix(-6, 1.08, (-2, 1), center=(38, 34.5))]
    movings = [dot_image((70, 77), warp_points(t, dots), peaks) for t in truths]
    many = LoFTRMatcher(DotModel(), batch=2).match_many(fixed, movings)
    for found, t in zip(many, truths, strict=True):
        np.testing.assert_allclose(found.fixed, dots, atol=0.1)
        np.testing.assert_allclose(found.moving, warp_points(t, dots), atol=0.1)


@pytest.mark.slow
def test_loftr_end_to_end_with_checkpoints_written_by_the_test(tmp_path: Path, rotated_pair) -> None:
    from vreg_cli.model.loftr import checkpoint_payload

    model = _random_model()
    vreg_ckpt = tmp_path / "best.ckpt"
    torch.save(checkpoint_payload(model), vreg_ckpt)
    minima = tmp_path / "minima_loftr.ckpt"
    torch.save({"state_dict": {f"matcher.{k}": v for k, v in _random_model(0.2).state_dict().items()}}, minima)

    # random weights: the plumbing only, so the support a rough start needs is switched off
    spec = f"loftr:checkpoint={vreg_ckpt},prealign=search,rough_min_inliers=0,rough_min_verified=0"
    method = build_method(spec, RegistrationContext(max_rotation=90)).method
    assert isinstance(method, LoFTRMethod) and "checkpoint" in method.describe()
    fixed, moving, _ = rotated_pair
    found = method.match(fixed, moving)
    assert len(found) > 0 and found.info.strategy.startswith("rotation search")
    assert (found.moving.min(0) >= -0.5).all() and (found.moving.max(0) <= SIZE - 0.5).all()

    auto, why = build_method(f"auto:weights={minima}")
    assert isinstance(auto, LoFTRMethod) and why == "auto: weights given"
    with pytest.raises(RegistrationFailed):  # random weights at the default threshold find nothing to trust
        register_pair(fixed, moving, LoFTRMethod(LoFTROptions(prealign="none"), CONFIG, matcher=auto.matcher))


def test_auto_resolution_and_spec_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vreg_cli.errors import VregError
    from vreg_cli.methods import resolve_spec

    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "config.toml"))
    assert resolve_spec("auto")[0] == "auto"  # no weights: the classic-then-bundled-loftr cascade (methods/auto.py)
    (tmp_path / "config.toml").write_text('weights = "from_config.ckpt"\n')
    assert resolve_spec("auto")[:2] == ("loftr", {"weights": "from_config.ckpt"})
    monkeypatch.setenv("VREG_WEIGHTS", "env.ckpt")
    name, options, why = resolve_spec("auto")
    assert (name, options["weights"], why) == ("loftr", "env.ckpt", "auto: weights from VREG_WEIGHTS")
    for bad in ("orb", "sift:weights=a.ckpt", "loftr:size=big,weights=a", "loftr:weights=a,colour=1"):
        with pytest.raises(VregError):
            build_method(bad)
    # plain "loftr" takes the bundled checkpoint; without it in the checkout the error says so
    monkeypatch.setattr("vreg_cli.methods.loftr.method.BUNDLED_LOFTR", tmp_path / "absent.ckpt")
    with pytest.raises(VregError, match="loftr needs weights.*absent.ckpt is missing"):
        build_method("loftr")


def _cli_pair(tmp_path: Path, rotated_pair) -> tuple[list[str], np.ndarray]:
    """f.png, m.png (m = f turned 4 deg and shifted) and a checkpoint in tmp_path; (CLI arguments, truth m -> f)."""
    from vreg_cli.model.loftr import checkpoint_payload

    ckpt = tmp_path / "best.ckpt"
    torch.save(checkpoint_payload(_random_model()), ckpt)
    fixed = rotated_pair[0]
    fixed_to_moving = affine_matrix(4, 1.0, (3, -2), center=CENTRE)
    cv2.imwrite(str(tmp_path / "f.png"), fixed)
    cv2.imwrite(str(tmp_path / "m.png"), warp_image(fixed, fixed_to_moving, fixed.shape))
    common = ["--checkpoint", str(ckpt), "--working-size", "96", "--max-rotation", "10", "--scale-range", "0.9,1.1"]
    return [str(tmp_path / "f.png"), str(tmp_path / "m.png"), *common], np.linalg.inv(fixed_to_moving)


def _as_model_output(found: Matches) -> dict[str, torch.Tensor]:
    """Matches in the model's input pixels as LoFTRModel.match returns them (one image pair)."""
    return {
        "keypoints0": torch.from_numpy(found.fixed).float().reshape(-1, 2),
        "keypoints1": torch.from_numpy(found.moving).float().reshape(-1, 2),
        "confidence": torch.from_numpy(found.confidence).float(),
        "batch_indexes": torch.zeros(len(found), dtype=torch.long),
    }


def _grey(image: torch.Tensor) -> np.ndarray:
    return np.round(image[0, 0].numpy() * 255.0).astype(np.uint8)


def test_cli_with_a_test_made_checkpoint(tmp_path: Path, rotated_pair) -> None:
    from typer.testing import CliRunner

    from vreg_cli.cli import app

    args, _ = _cli_pair(tmp_path, rotated_pair)
    runner = CliRunner()
    out = tmp_path / "matches.csv"
    result = runner.invoke(app, ["match", *args[:2], "-o", str(out), *args[2:]])
    assert result.exit_code == 0, result.output
    assert "loftr (checkpoint" in result.output and len(out.read_text().splitlines()) > 1
    wrong = runner.invoke(app, ["register", *args[:2], "--method", "sift", "--checkpoint", args[3]])
    assert wrong.exit_code == 2 and "--checkpoint only applies to auto and loftr, not 'sift'" in wrong.output


def test_cli_register_with_a_checkpoint_trusts_right_matches(
    tmp_path: Path, rotated_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint is loaded as usual; its network is replaced by the NCC double, which is right on this pair."""
    import json

    from typer.testing import CliRunner

    from vreg_cli.cli import app
    from vreg_cli.model.loftr import LoFTRModel

    args, truth = _cli_pair(tmp_path, rotated_pair)
    calls: list[tuple[int, ...]] = []

    def right_matches(self: object, image0: torch.Tensor, image1: torch.Tensor, features0: object = None) -> dict:
        calls.append(tuple(image1.shape))
        return _as_model_output(ncc_matcher(_grey(image0), _grey(image1)))

    monkeypatch.setattr(LoFTRModel, "match", right_matches)
    transform = tmp_path / "t.json"
    result = CliRunner().invoke(app, ["register", *args, "-o", str(tmp_path / "o.png"), "--transform-out",
                                      str(transform)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert calls and (tmp_path / "o.png").is_file()  # the checkpoint's (double) network did the matching
    assert _error(np.array(json.loads(transform.read_text())["matrix"]), truth) < 1.0


def test_cli_register_with_a_checkpoint_refuses_matches_that_agree_on_nothing(
    tmp_path: Path, rotated_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random correspondences (a seeded double): no transform is trusted, exit 3 and no output written."""
    from typer.testing import CliRunner

    from vreg_cli.cli import app
    from vreg_cli.model.loftr import LoFTRModel

    args, _ = _cli_pair(tmp_path, rotated_pair)

    def random_matches(self: object, image0: torch.Tensor, image1: torch.Tensor, features0: object = None) -> dict:
        rng = np.random.default_rng(0)
        h, w = image0.shape[-2:]
        pts = rng.uniform(0, 1, (2, 200, 2)) * [w - 1, h - 1]
        return _as_model_output(Matches(pts[0], pts[1], np.ones(200)))

    monkeypatch.setattr(LoFTRModel, "match", random_matches)
    result = CliRunner().invoke(app, ["register", *args, "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 3, result.output
    assert "refused:" in result.output and "error:" not in result.output  # a refusal, in one line, no traceback
    assert not (tmp_path / "o.png").exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)
