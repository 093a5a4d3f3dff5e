"""The weight-free ``classic`` method: any rotation, scale 0.7-1.4, both polarities, refusal, one real pair."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest

from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import (
    decompose_affine,
    grid_points,
    point_errors,
    rotation_matrix,
    stretch,
    translation_matrix,
    warp_image,
    warp_points,
)
from vreg_cli.io import read_image
from vreg_cli.methods.classic import ClassicMethod, ClassicOptions, Prepared, Refined
from vreg_cli.methods.classic.global_search import Candidate
from vreg_cli.paths import SAMPLE_DIR
from vreg_cli.registration import register_pair

SIZE = 256


@pytest.fixture(scope="module")
def eye() -> dict[str, np.ndarray]:
    return make_triplet(3, SIZE)


@pytest.fixture(scope="module")
def method() -> ClassicMethod:
    return ClassicMethod()


def _transformed(img: np.ndarray, angle: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The image rotated/scaled about its centre on its own canvas, and that map (original -> new, 3x3)."""
    h, w = img.shape[:2]
    t = rotation_matrix(angle, ((w - 1) / 2, (h - 1) / 2), scale)
    return warp_image(img, t, (h, w)), t


def _grid_error(estimate: np.ndarray, truth: np.ndarray, fov: np.ndarray) -> float:
    """Largest distance between the estimated and the true moving->fixed map over the fixed image's FOV grid,
    where the moving image has content."""
    pf = grid_points(fov.shape, 16, fov)
    pm = warp_points(np.linalg.inv(truth), pf)
    inside = (pm >= 0).all(axis=1) & (pm[:, 0] < fov.shape[1] - 1) & (pm[:, 1] < fov.shape[0] - 1)
    return float(point_errors(estimate, pm[inside], pf[inside]).max())


@pytest.mark.parametrize(
    ("modality", "angle", "scale"),
    [
        ("fa", 0, 1.0),
        ("fa", 45, 1.0),
        ("fa", 90, 1.0),
        ("fa", 180, 1.0),
        ("fa", 30, 0.7),
        ("fa", -120, 1.4),
        ("oct", 0, 1.0),
        ("oct", -45, 1.0),
        ("oct", 90, 1.0),
        ("oct", 180, 1.0),
        ("oct", 0, 0.7),
        ("oct", 60, 1.4),
    ],
)
def test_synthetic_pairs_recovered_within_2px(
    eye: dict[str, np.ndarray], method: ClassicMethod, modality: str, angle: float, scale: float
) -> None:
    moving, t = _transformed(eye[modality], angle, scale)
    result = register_pair(eye["cf"], moving, method)
    assert _grid_error(result.matrix, np.linalg.inv(t), eye["fov"]) <= 2.0


def test_inverted_moving_image_registers(eye: dict[str, np.ndarray], method: ClassicMethod) -> None:
    """Vessel polarity must not matter: a negative FA (dark vessels, like CF) registers as well."""
    moving, t = _transformed(255 - eye["fa"], 75, 1.0)
    result = register_pair(eye["cf"], moving, method)
    assert _grid_error(result.matrix, np.linalg.inv(t), eye["fov"]) <= 2.0


def test_vessel_map_is_polarity_free(eye: dict[str, np.ndarray]) -> None:
    a = ClassicOptions().vessel_map(eye["fa"])
    b = ClassicOptions().vessel_map(255 - eye["fa"])
    both = a.valid & b.valid
    assert np.corrcoef(a.strength[both], b.strength[both])[0, 1] > 0.95


def test_pure_noise_is_refused(eye: dict[str, np.ndarray], method: ClassicMethod) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    with pytest.raises(RegistrationFailed):
        method.match(eye["cf"], noise)


def test_matches_reproduce_the_estimate(eye: dict[str, np.ndarray], method: ClassicMethod) -> None:
    """The returned points are genuine correspondences: each lands on its true partner."""
    moving, t = _transformed(eye["oct"], 135, 1.0)
    found = method.match(eye["cf"], moving)
    assert len(found) >= ClassicOptions().min_inliers
    err = point_errors(np.linalg.inv(t), found.moving, found.fixed)
    assert np.median(err) < 1.0
    assert found.info.quality is not None and found.info.quality > 0.0


def test_global_estimate_finds_rotation_and_scale(eye: dict[str, np.ndarray], method: ClassicMethod) -> None:
    moving, t = _transformed(eye["fa"], -150, 1.2)
    m, score = method.global_estimate(eye["cf"], moving)
    assert score > ClassicOptions().min_score
    # A similarity from the coarse search: within a few pixels, refinement does the rest.
    assert _grid_error(m, np.linalg.inv(t), eye["fov"]) <= 8.0


def _sample_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with open(SAMPLE_DIR / "landmarks.csv", newline="") as fh:
        rows = np.array(
            [[float(r[k]) for k in ("x_fixed", "y_fixed", "x_moving", "y_moving")] for r in csv.DictReader(fh)]
        )
    return read_image(SAMPLE_DIR / "fixed.png"), read_image(SAMPLE_DIR / "moving.png"), rows[:, :2], rows[:, 2:]


@pytest.mark.parametrize("angle", [0, 90])
def test_real_cf_fa_pair(method: ClassicMethod, angle: float) -> None:
    fixed, moving, pf, pm = _sample_pair()
    moved, t = _transformed(moving, angle, 1.0)
    result = register_pair(fixed, moved, method)
    err = point_errors(result.matrix, warp_points(t, pm), pf) * 640 / max(fixed.shape[:2])
    assert np.median(err) <= 10.0


def test_more_candidates_are_refined_only_when_the_best_are_refused(
    eye: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``more_candidates``: a clear pair stops after the first refinements; a refused one refines the extra ones."""
    calls: list[int] = []
    original = ClassicMethod._refine

    def counting(self, *args):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(ClassicMethod, "_refine", counting)
    method = ClassicMethod(ClassicOptions(refine_candidates=2, more_candidates=3))
    method.match(eye["cf"], _transformed(eye["fa"], 45, 1.0)[0])
    assert 1 <= len(calls) <= 2
    calls.clear()
    noise = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    with pytest.raises(RegistrationFailed):
        method.match(eye["cf"], noise)
    assert len(calls) == 5  # 2 + 3: every extra candidate was tried before refusing


def _refined(inliers: int, attempted: int, verified: int, matrix: np.ndarray) -> Refined:
    """A refined hypothesis with these counts and this estimate (input pixels = working pixels)."""
    n = np.zeros((inliers, 2))
    cand = Candidate(matrix, 0.0, 1.0, 0.4)
    level = Prepared(np.zeros((8, 8)), np.eye(3), None, 1.0)  # type: ignore[arg-type]
    scale, stretched = decompose_affine(matrix).scale, stretch(matrix)
    return Refined(matrix, n, n, np.ones(inliers), attempted, cand, level, verified, attempted, scale, stretched)


def test_weak_results_must_be_close_to_a_similarity() -> None:
    """Few inlier patches and a sheared estimate: refused, and the refusal names why; many patches: trusted. A
    rotated anisotropic scale is no more stretched than an upright one."""
    method = ClassicMethod(ClassicOptions(weak_inliers=24, weak_max_stretch=1.15))
    c = method.options
    similar = rotation_matrix(30.0, (100.0, 100.0), 0.5)
    sheared = similar @ np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # stretch 1.22
    assert method._doubts(c, _refined(14, 30, 12, similar)) == []
    assert method._doubts(c, _refined(40, 60, 40, sheared)) == []
    assert method._doubts(c, _refined(14, 30, 12, sheared)) == ["a weak result stretched 1.22x"]
    oct_like = np.diag([1.1, 1.0, 1.0]) @ rotation_matrix(45.0, (0.0, 0.0), 0.5)  # an OCT scan's aspect, turned
    assert decompose_affine(oct_like).shear > 0.05 and stretch(oct_like) == pytest.approx(1.1)
    assert method._doubts(c, _refined(14, 30, 12, oct_like)) == []
    doubts = method._doubts(c, _refined(10, 40, 5, rotation_matrix(0.0, (0.0, 0.0), 0.3)))
    assert doubts == ["scale 0.300 outside 0.4-2.5", "under 12 inlier patches", "inlier share under 30%",
                      "under 6 or 30% verified"]  # fmt: skip


def test_broad_support_lowers_the_shares_a_result_needs() -> None:
    """Many inlier patches close to a similarity, most of them verified: trusted with 20-30 % inlier and verified
    shares (background texture fills patches that cannot agree); too few patches, a stretched estimate, or inlier
    patches that lose their peak when searched wider (a chance result) keep the 30 % shares."""
    method = ClassicMethod(
        ClassicOptions(broad_inliers=20, broad_max_stretch=1.11, broad_min_kept=0.75, broad_min_ratio=0.2)
    )
    c = method.options
    similar = rotation_matrix(30.0, (100.0, 100.0), 0.5)
    stretched = similar @ np.diag([1.15, 1.0, 1.0])
    assert method._doubts(c, _refined(22, 90, 22, similar)) == []  # 24 % of 90 patches
    assert method._doubts(c, _refined(19, 76, 19, similar)) == ["inlier share under 30%", "under 6 or 30% verified"]
    assert method._doubts(c, _refined(30, 120, 30, stretched)) == ["inlier share under 30%", "under 6 or 30% verified"]
    assert method._doubts(c, _refined(22, 120, 22, similar)) == ["inlier share under 20%", "under 6 or 20% verified"]
    assert method._doubts(c, _refined(22, 58, 13, similar)) == ["under 6 or 30% verified"]  # 0.59 verified per inlier
    assert method._doubts(c, _refined(22, 58, 17, similar)) == []  # 0.77
    strict = ClassicMethod(ClassicOptions(broad_inliers=1000))
    assert strict._doubts(strict.options, _refined(22, 90, 22, similar)) != []


def test_a_hypothesis_with_too_few_patches_is_refined_again_with_sparser_patches(
    eye: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused only for too few inlier patches: the same hypothesis is refined again with ``sparse_min_content``,
    and that result is used when it is trusted; a result refused for other reasons is not refined again."""
    contents: list[float] = []
    truncate = [True]
    original = ClassicMethod._refine

    def few_first(self, c, f, hyp):  # type: ignore[no-untyped-def]
        contents.append(c.min_content)
        r = original(self, c, f, hyp)
        if truncate[0] and r is not None and c.min_content == self.options.min_content:  # first pass: 8 patches
            r = replace(
                r, fixed=r.fixed[:8], moving=r.moving[:8], ncc=r.ncc[:8], attempted=9, verified=8, verify_attempted=9
            )
        return r

    monkeypatch.setattr(ClassicMethod, "_refine", few_first)
    method = ClassicMethod(ClassicOptions(refine_candidates=1, more_candidates=0, sparse_min_content=0.03))
    found = method.match(eye["cf"], _transformed(eye["fa"], 45, 1.0)[0])
    assert contents == [0.06, 0.03] and len(found) > 8
    contents.clear()
    truncate[0] = False
    noise = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    with pytest.raises(RegistrationFailed):
        method.match(eye["cf"], noise)
    assert contents == [0.06]  # refused for a low share and little verification, not only for the count


def test_a_weak_trusted_result_does_not_end_the_search(
    eye: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trusted result with fewer than ``weak_inliers`` patches does not stop the refinement of the runner-up (a
    hypothesis near the truth can refine into a weak, slightly wrong result), and the most inlier patches win; a
    clear, strong result still ends the search at once."""
    calls: list[int] = []
    weak_first = [True]
    first: list[object] = [None]  # the first hypothesis refined (the right one)
    original = ClassicMethod._refine

    def refine(self, c, f, hyp):  # type: ignore[no-untyped-def]
        calls.append(len(calls))
        r = original(self, c, f, first[0] if calls[-1] else hyp)  # every later hypothesis: the right one again
        if calls[-1] == 0:
            first[0] = hyp
            if weak_first[0] and r is not None:  # trusted, clear, but weak: 12 of 20 patches, 15 of 20 verified
                r = replace(
                    r, fixed=r.fixed[:12], moving=r.moving[:12], ncc=r.ncc[:12], attempted=20, verified=15,
                    verify_attempted=20,
                )  # fmt: skip
        return r

    monkeypatch.setattr(ClassicMethod, "_refine", refine)
    method = ClassicMethod(ClassicOptions(refine_candidates=2, more_candidates=0))
    moving = _transformed(eye["fa"], 45, 1.0)[0]
    found = method.match(eye["cf"], moving)
    assert len(calls) == 2 and len(found) > 12
    calls.clear()
    weak_first[0] = False
    found = method.match(eye["cf"], moving)
    assert len(calls) == 1 and len(found) >= method.options.weak_inliers


@pytest.mark.slow
def test_loftrs_prealigner_is_classics_registration_else_its_global_estimate(eye: dict[str, np.ndarray]) -> None:
    from vreg_cli.methods.loftr.prealign import ClassicPrealigner

    moving, t = _transformed(eye["fa"], -150, 1.2)
    prealigner = ClassicPrealigner()
    trusted = prealigner(eye["cf"], moving)
    assert trusted.refined and _grid_error(trusted.matrix, np.linalg.inv(t), eye["fov"]) <= 1.5
    # a result classic does not trust still gives its best global hypothesis, as a rough start
    prealigner.classic.options = replace(ClassicOptions(), min_inliers=10_000)
    rough = prealigner(eye["cf"], moving)
    assert not rough.refined and _grid_error(rough.matrix, np.linalg.inv(t), eye["fov"]) <= 8.0
    with pytest.raises(RegistrationFailed, match="too weak"):
        prealigner(eye["cf"], np.zeros_like(moving))


@pytest.mark.parametrize(("angle", "scale"), [(-150, 1.2), (40, 2.0)])  # 2.0: a zoomed-in window (level 0.55)
def test_verify_confirms_the_true_estimate_and_not_a_shifted_one(
    eye: dict[str, np.ndarray], method: ClassicMethod, angle: float, scale: float
) -> None:
    moving, t = _transformed(eye["fa"], angle, scale)
    truth = np.linalg.inv(t)
    true = method.verify(eye["cf"], moving, truth)
    assert true.attempted >= 20 and true.ratio >= 0.5
    shifted = method.verify(eye["cf"], moving, translation_matrix(12, -9) @ truth)
    assert shifted.ratio <= 0.1
    other = method.verify(make_triplet(7, SIZE)["cf"], moving, truth)  # another eye
    assert other.ratio <= 0.1
