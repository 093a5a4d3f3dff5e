"""``auto`` without weights: classic first, the bundled LoFTR from classic's rough start only where classic refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import rotation_matrix, warp_image
from vreg_cli.matches import Matches
from vreg_cli.methods import build_method, resolve_spec
from vreg_cli.methods.auto import AutoMethod, AutoOptions
from vreg_cli.methods.loftr import LoFTRMethod
from vreg_cli.methods.loftr.prealign import Prealignment
from vreg_cli.provenance import MatchInfo, RefusalDetails
from vreg_cli.registration import register_images

SIZE = 256


@pytest.fixture(autouse=True)
def _no_configured_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture(scope="module")
def eye() -> dict[str, np.ndarray]:
    return make_triplet(3, SIZE)


class FakeLoFTR:
    """Records the start it is handed; answers with matches along that start's matrix (or refuses)."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.starts: list[Prealignment] = []

    def match_from(self, fixed: np.ndarray, moving: np.ndarray, prealigner: Any) -> Matches:
        start = prealigner(fixed, moving)
        self.starts.append(start)
        if self.refuse:
            raise RegistrationFailed(
                "loftr: 3 inlier matches from a rough start; ... needs 24", RefusalDetails(inliers=3)
            )
        grid = np.stack(np.meshgrid(np.arange(20, 200, 20.0), np.arange(20, 200, 20.0)), -1).reshape(-1, 2)
        fixed_pts = (start.matrix @ np.c_[grid, np.ones(len(grid))].T).T[:, :2]
        found = Matches(fixed_pts, grid, np.ones(len(grid)))
        found.info = MatchInfo(
            strategy="pre-aligned by the classic global estimate", verified_ratio=0.31, rough_inliers=81
        )
        return found


def test_auto_is_the_cascade_without_weights_and_loftr_with_them() -> None:
    assert isinstance(build_method("auto").method, AutoMethod)
    assert isinstance(build_method("auto:step=30").method, AutoMethod)
    assert build_method("auto:step=30").method.options == AutoOptions(step=30.0)  # type: ignore[attr-defined]
    assert resolve_spec("auto:weights=x.ckpt")[0] == "loftr"  # with weights auto is loftr, as before


def test_a_pair_classic_trusts_never_loads_loftr(eye: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_loftr(*args: Any, **kwargs: Any) -> LoFTRMethod:
        raise AssertionError("LoFTR was loaded for a pair classic registers")

    monkeypatch.setattr("vreg_cli.methods.loftr.method._load_matcher", no_loftr)
    h, w = eye["fa"].shape[:2]
    moving = warp_image(eye["fa"], rotation_matrix(60, ((w - 1) / 2, (h - 1) / 2), 1.0), (h, w))
    reg = register_images(eye["cf"], moving, AutoMethod())
    assert reg.ok and reg.produced_by == "classic"
    assert reg.decision == "auto: classic trusted its result" and reg.to_dict()["decision"] == reg.decision


def test_a_refused_pair_goes_to_loftr_from_classics_rough_start(eye: dict) -> None:
    auto = AutoMethod()
    rough = rotation_matrix(10, (128.0, 128.0), 1.05)

    def refuse(fixed: np.ndarray, moving: np.ndarray) -> Matches:
        raise RegistrationFailed(
            "classic, acceptance: result not trusted (19 inlier patches, 20 % of 95)",
            RefusalDetails(global_matrix=rough, global_score=0.4),
        )

    auto.classic.match = refuse  # type: ignore[method-assign]
    fake = FakeLoFTR()
    auto._loftr = fake  # type: ignore[assignment]
    found = auto.match(eye["cf"], eye["fa"])
    assert len(fake.starts) == 1 and np.allclose(fake.starts[0].matrix, rough) and not fake.starts[0].refined
    assert found.info.produced_by == "loftr"
    assert found.info.decision == (
        "auto: classic refused (acceptance: result not trusted (19 inlier patches, 20 % of 95)); "
        "loftr pre-aligned by the classic global estimate: 81 inliers, 31% confirmed"
    )


def test_when_both_refuse_the_reason_names_both(eye: dict) -> None:
    auto = AutoMethod()

    def refuse(fixed: np.ndarray, moving: np.ndarray) -> Matches:
        raise RegistrationFailed(
            "classic, refinement: no hypothesis gives consistent vessel correspondences",
            RefusalDetails(global_score=0.01),
        )

    auto.classic.match = refuse  # type: ignore[method-assign]
    fake = FakeLoFTR(refuse=True)
    auto._loftr = fake  # type: ignore[assignment]
    reg = register_images(eye["cf"], eye["fa"], auto)
    assert not reg.ok and reg.produced_by == "none"
    assert reg.reason.startswith(
        "auto: classic refused (refinement: no hypothesis gives consistent vessel correspondences); loftr refused"
    )
    assert fake.starts == []  # classic's global score (0.01) was too weak to hand LoFTR as a rough start
    assert reg.info.global_score == 0.01 and reg.inliers == 0


def test_when_loftr_refuses_a_rough_start_the_details_hold_both_methods_facts(eye: dict) -> None:
    """What LoFTR measured replaces classic's figure of the same name; classic's other figures stay."""
    auto = AutoMethod()
    rough = rotation_matrix(10, (128.0, 128.0), 1.05)

    def refuse(fixed: np.ndarray, moving: np.ndarray) -> Matches:
        raise RegistrationFailed(
            "classic, acceptance: result not trusted (19 inlier patches, 20 % of 95)",
            RefusalDetails(global_matrix=rough, global_score=0.4, matches=95, inliers=19, verified_ratio=0.1),
        )

    auto.classic.match = refuse  # type: ignore[method-assign]
    fake = FakeLoFTR(refuse=True)
    auto._loftr = fake  # type: ignore[assignment]
    reg = register_images(eye["cf"], eye["fa"], auto)
    assert not reg.ok and reg.produced_by == "none" and len(fake.starts) == 1
    assert (reg.n_matches, reg.inliers) == (95, 3)  # LoFTR's inlier count, classic's match count
    assert isinstance(reg.info, RefusalDetails) and np.allclose(reg.info.global_matrix, rough)
    assert (reg.info.global_score, reg.info.verified_ratio) == (0.4, 0.1)


@pytest.mark.slow
def test_vreg_match_and_register_record_the_decision(tmp_path: Path) -> None:
    """Every entry point says which method produced the result: the matches JSON and the transform JSON."""
    import json

    from typer.testing import CliRunner

    from vreg_cli.cli import app
    from vreg_cli.paths import SAMPLE_DIR

    pair = [str(SAMPLE_DIR / "fixed.png"), str(SAMPLE_DIR / "moving.png")]
    result = CliRunner().invoke(app, ["match", *pair, "-o", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    found = json.loads((tmp_path / "m.json").read_text())
    assert (found["produced_by"], found["decision"]) == ("classic", "auto: classic trusted its result")
    result = CliRunner().invoke(
        app, ["register", *pair, "-o", str(tmp_path / "r.png"), "--transform-out", str(tmp_path / "t.json")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "t.json").read_text())["decision"] == "auto: classic trusted its result"
    assert "auto: classic trusted its result" in result.output
