"""LoFTR method: rotation handling with a matcher double that is only correct near 0 deg, and the real model's
plumbing with checkpoints the tests create (random weights)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import affine_matrix, warp_image, warp_points
from vreg_cli.methods import make_method
from vreg_cli.methods.base import Matches
from vreg_cli.methods.loftr import LoFTRMethod
from vreg_cli.methods.loftr_matcher import LoFTRMatcher
from vreg_cli.register import RegisterConfig, register_pair

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


CONFIG = RegisterConfig(working_size=SIZE)


def test_the_double_fails_at_90_degrees(rotated_pair) -> None:
    fixed, moving, _ = rotated_pair
    with pytest.raises(RegistrationFailed):
        register_pair(fixed, moving, LoFTRMethod(ncc_matcher, prealign="none"), CONFIG)


def test_rotation_search_recovers_a_90_degree_pair(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    method = LoFTRMethod(ncc_matcher, prealign="search")
    reg = register_pair(fixed, moving, method, CONFIG)
    assert _error(reg.moving_to_fixed, truth) < 2.0
    assert reg.info["strategy"].startswith("rotation search") and abs(abs(reg.parts.rotation_deg) - 90) < 1.5
    assert set(reg.info["search"]) == {"0", "90", "-90", "-180"}


def test_prealignment_is_composed_back_to_the_original_moving_pixels(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair
    rough = affine_matrix(8, 1.05, (3, -2), center=CENTRE) @ truth  # a pre-alignment 8 deg / 5% / 4 px off
    method = LoFTRMethod(ncc_matcher, prealigner=lambda f, m: (rough, 1.0))
    reg = register_pair(fixed, moving, method, CONFIG)
    assert reg.info["strategy"] == "classic pre-alignment"
    assert _error(reg.moving_to_fixed, truth) < 2.0


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
    reg = register_pair(fixed, moving, LoFTRMethod(recording, prealigner=lambda f, m: (rough, 1.0)), CONFIG)
    assert max(seen[0]) < 0.8 * SIZE  # about the central 48 px (+ margins), not the whole frame
    assert _error(reg.moving_to_fixed, truth) < 2.0 and abs(reg.parts.scale - 0.5) < 0.02


def test_failed_or_wrong_prealignment_falls_back_to_the_search(rotated_pair) -> None:
    fixed, moving, truth = rotated_pair

    def refuses(f: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float]:
        raise RegistrationFailed("no vessels")

    wrong = affine_matrix(180, 1.0, center=CENTRE) @ truth
    for prealigner in (refuses, lambda f, m: (wrong, 1.0)):
        reg = register_pair(fixed, moving, LoFTRMethod(ncc_matcher, prealigner=prealigner), CONFIG)
        assert reg.info["strategy"].startswith("rotation search") and "prealign_failed" in reg.info
        assert _error(reg.moving_to_fixed, truth) < 2.0


def test_max_rotation_narrows_the_search(rotated_pair) -> None:
    fixed, moving, _ = rotated_pair
    narrow = LoFTRMethod(ncc_matcher, max_rotation=20, scale_range=(0.8, 1.2))
    assert narrow.match(fixed, moving).info["strategy"] == "direct"
    limited = LoFTRMethod(ncc_matcher, prealign="search", max_rotation=100)
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


def test_internal_size_maps_points_back_to_the_callers_pixels() -> None:
    rng = np.random.default_rng(1)
    fixed, moving = rng.integers(0, 255, (2, 100, 130), dtype=np.uint8)
    found = LoFTRMatcher(_random_model(), size=64)(fixed, moving)
    assert len(found) > 0 and found.fixed[:, 0].max() > 64 and (found.fixed.max(0) < [130, 100]).all()


def test_loftr_end_to_end_with_checkpoints_written_by_the_test(tmp_path: Path, rotated_pair) -> None:
    from vreg_cli.model.loftr import checkpoint_payload

    model = _random_model()
    vreg_ckpt = tmp_path / "best.ckpt"
    torch.save(checkpoint_payload(model), vreg_ckpt)
    minima = tmp_path / "minima_loftr.ckpt"
    torch.save({"state_dict": {f"matcher.{k}": v for k, v in _random_model(0.2).state_dict().items()}}, minima)

    method = make_method(f"loftr:checkpoint={vreg_ckpt},prealign=search", max_rotation=90)
    assert isinstance(method, LoFTRMethod) and "checkpoint" in method.describe()
    fixed, moving, _ = rotated_pair
    found = method.match(fixed, moving)
    assert len(found) > 0 and found.info["strategy"].startswith("rotation search")
    assert (found.moving.min(0) >= -0.5).all() and (found.moving.max(0) <= SIZE - 0.5).all()

    auto = make_method(f"auto:weights={minima}")
    assert isinstance(auto, LoFTRMethod) and auto.chosen_because == "auto: weights given"
    with pytest.raises(RegistrationFailed):  # random weights at the default threshold find nothing to trust
        register_pair(fixed, moving, LoFTRMethod(auto.matcher, prealign="none"), CONFIG)


def test_auto_resolution_and_spec_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vreg_cli.errors import VregError
    from vreg_cli.methods import resolve_spec

    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "config.toml"))
    assert resolve_spec("auto")[0] == "classic"
    (tmp_path / "config.toml").write_text('weights = "from_config.ckpt"\n')
    assert resolve_spec("auto")[:2] == ("loftr", {"weights": "from_config.ckpt"})
    monkeypatch.setenv("VREG_WEIGHTS", "env.ckpt")
    name, options, why = resolve_spec("auto")
    assert (name, options["weights"], why) == ("loftr", "env.ckpt", "auto: weights from VREG_WEIGHTS")
    for bad in ("orb", "sift:weights=a.ckpt", "loftr:size=big,weights=a", "loftr:weights=a,colour=1"):
        with pytest.raises(VregError):
            make_method(bad)
    # plain "loftr" takes the bundled checkpoint; without it in the checkout the error says so
    monkeypatch.setattr("vreg_cli.methods.loftr.BUNDLED_LOFTR", tmp_path / "absent.ckpt")
    with pytest.raises(VregError, match="loftr needs weights.*absent.ckpt is missing"):
        make_method("loftr")


def test_cli_with_a_test_made_checkpoint(tmp_path: Path, rotated_pair) -> None:
    from typer.testing import CliRunner

    from vreg_cli.cli import app
    from vreg_cli.model.loftr import checkpoint_payload

    ckpt = tmp_path / "best.ckpt"
    torch.save(checkpoint_payload(_random_model()), ckpt)
    fixed, moving, _ = rotated_pair
    cv2.imwrite(str(tmp_path / "f.png"), fixed)
    cv2.imwrite(str(tmp_path / "m.png"), moving)
    common = ["--checkpoint", str(ckpt), "--working-size", "96", "--max-rotation", "10", "--scale-range", "0.9,1.1"]
    runner = CliRunner()
    out = tmp_path / "m.csv"
    result = runner.invoke(app, ["match", str(tmp_path / "f.png"), str(tmp_path / "m.png"), "-o", str(out), *common])
    assert result.exit_code == 0, result.output
    assert "loftr (checkpoint" in result.output and len(out.read_text().splitlines()) > 1
    result = runner.invoke(app, ["register", str(tmp_path / "f.png"), str(tmp_path / "m.png"), "-o",
                                 str(tmp_path / "o.png"), *common])  # fmt: skip
    assert result.exit_code in (0, 3), result.output  # random weights: trusted or refused, never a crash
    assert result.exception is None or isinstance(result.exception, SystemExit)
    wrong = runner.invoke(app, ["register", str(tmp_path / "f.png"), str(tmp_path / "m.png"), "--method", "sift",
                                "--checkpoint", str(ckpt)])  # fmt: skip
    assert wrong.exit_code == 2 and "only apply to the loftr" in wrong.output
