"""`vreg register` / `vreg match` end to end on the bundled real pair (classic method) and on tiny images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import vreg_cli.methods as methods
from vreg_cli.cli import app
from vreg_cli.geometry import affine_matrix, point_errors, warp_points
from vreg_cli.io import read_image, read_landmarks
from vreg_cli.methods.base import Matches, Method
from vreg_cli.paths import SAMPLE_DIR

runner = CliRunner()
FIXED, MOVING, LANDMARKS = SAMPLE_DIR / "fixed.png", SAMPLE_DIR / "moving.png", SAMPLE_DIR / "landmarks.csv"


@pytest.fixture(autouse=True)
def _no_configured_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`auto` must resolve to classic here, whatever the developer's environment says."""
    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "no-config.toml"))


def invoke(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_bundled_pair_json_convention_and_pictures(tmp_path: Path) -> None:
    out, tjson = tmp_path / "out.png", tmp_path / "t.json"
    pics = {name: tmp_path / f"{name}.png" for name in ("checkerboard", "overlay", "matches")}
    result = invoke(
        "register", FIXED, MOVING, "-o", out, "--method", "classic", "--transform-out", tjson,
        "--landmarks", LANDMARKS, *(x for name, p in pics.items() for x in (f"--{name}", p)),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "landmark error" in result.output and "classic" in result.output
    data = json.loads(tjson.read_text())
    assert data["convention"] == "moving (x, y, 1) -> fixed pixels, 0-based, x right, y down"
    fixed_pts, moving_pts = read_landmarks(LANDMARKS)
    errors = point_errors(np.array(data["matrix"]), moving_pts, fixed_pts)
    assert errors.mean() < 10.0 and np.median(errors) < 10.0
    fixed = read_image(FIXED)
    assert read_image(out).shape[:2] == fixed.shape[:2]
    for name, path in pics.items():
        img = read_image(path, mode="rgb")
        assert img.ndim == 3 and img.std() > 5, name
    assert read_image(pics["checkerboard"]).shape[:2] == fixed.shape[:2]


@pytest.mark.slow
def test_pure_noise_exits_3_without_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 256, (200, 240), dtype=np.uint8))
    out = tmp_path / "out.png"
    result = invoke(
        "register", tmp_path / "a.png", tmp_path / "b.png", "-o", out, "--transform-out", tmp_path / "t.json"
    )
    assert result.exit_code == 3, result.output
    assert not out.exists() and not (tmp_path / "t.json").exists()
    assert not list(tmp_path.glob(".*tmp*"))  # no half-written temporary file either


def test_unreadable_input_exits_2_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    result = invoke("register", FIXED, broken, "-o", tmp_path / "o.png")
    assert result.exit_code == 2 and "broken.png" in result.output
    assert invoke("register", tmp_path / "missing.tif", MOVING, "-o", tmp_path / "o.png").exit_code == 2


class MirrorDouble(Method):
    """Matches of a mirrored transform: a confident, consistent, implausible result."""

    name = "mirror-double"

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        truth = affine_matrix(0, 1.0, flip=True, center=(100, 100))
        pts = np.random.default_rng(0).uniform(0, 200, (50, 2))
        return Matches(warp_points(truth, pts), pts, np.ones(50))


def test_untrusted_result_force_output_and_allow_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        methods, "build_method", lambda spec, context: methods.BuiltMethod(MirrorDouble(context=context), "test")
    )
    img = tmp_path / "img.png"
    cv2.imwrite(str(img), np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8))
    out = tmp_path / "out.png"
    result = invoke("register", img, img, "-o", out, "--working-size", 200)
    assert result.exit_code == 3 and "mirror" in result.output and not out.exists()
    assert (
        result.output.splitlines()[-1].startswith("refused: mirror-double, result check:")
        and "error:" not in result.output
    )
    result = invoke("register", img, img, "-o", out, "--working-size", 200, "--force-output")
    assert result.exit_code == 3 and out.exists()
    out.unlink()
    result = invoke("register", img, img, "-o", out, "--working-size", 200, "--allow-mirror")
    assert result.exit_code == 0 and out.exists()


def test_16bit_tiff_grey_input(tmp_path: Path) -> None:
    moving16 = tmp_path / "moving16.tif"
    cv2.imwrite(str(moving16), read_image(MOVING, mode="gray").astype(np.uint16) * 257)
    tjson = tmp_path / "t.json"
    result = invoke("register", FIXED, moving16, "--method", "classic", "--transform-out", tjson)
    assert result.exit_code == 0, result.output
    assert abs(json.loads(tjson.read_text())["scale"] - 1.0) < 0.1


def test_batch_with_one_bad_pair(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"garbage")
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame(
        {"fixed": [str(FIXED), str(FIXED)], "moving": [str(MOVING), "bad.png"], "name": ["good", "bad"]}
    ).to_csv(pairs, index=False)
    out_dir = tmp_path / "out"
    result = invoke("register", "--pairs", pairs, "--out-dir", out_dir, "--method", "classic", "--pictures", "overlay")
    # the batch goes on past the bad pair; the exit code then says some pair errored (2; 3 = only refusals)
    assert result.exit_code == 2, result.output
    assert "1 of 2 pairs errored or were refused" in result.output
    summary = pd.read_csv(out_dir / "summary.csv")
    status = dict(zip(summary["name"], summary["status"], strict=True))
    assert status == {"good": "ok", "bad": "error"}
    assert "bad.png" in summary.set_index("name").loc["bad", "reason"]
    assert (
        (out_dir / "good.png").exists() and (out_dir / "good.json").exists() and (out_dir / "good_overlay.png").exists()
    )
    assert not (out_dir / "bad.png").exists()
    # --resume with other settings would mix two configurations in one summary: refused, nothing rerun
    before = (out_dir / "summary.csv").read_bytes()
    changed = invoke(
        "register", "--pairs", pairs, "--out-dir", out_dir, "--method", "sift", "--pictures", "overlay", "--resume"
    )
    assert changed.exit_code == 2 and "different settings (method: 'classic' then, 'sift' now)" in changed.output
    narrower = invoke("register", "--pairs", pairs, "--out-dir", out_dir, "--method", "classic", "--pictures",
                      "overlay", "--max-rotation", "30", "--resume")  # fmt: skip
    assert narrower.exit_code == 2 and "different settings (registration:" in narrower.output
    assert (out_dir / "summary.csv").read_bytes() == before
    # the old way of asking for a picture in batch mode still works (its path is ignored, with a warning)
    same = invoke(
        "register", "--pairs", pairs, "--out-dir", out_dir, "--method", "classic", "--overlay", "x", "--resume"
    )
    assert "batch mode ignores the path of --overlay" in " ".join(same.output.split())
    assert same.exit_code == 2 and "1 of 2 pairs errored" in same.output  # only the bad pair ran again
    assert "resume: kept 1 finished pair(s)" in same.output and "registering 1" in same.output.replace("\n", " ")


def test_batch_pairs_dir_with_landmarks(tmp_path: Path) -> None:
    pair = tmp_path / "data" / "p1"
    pair.mkdir(parents=True)
    for src in (FIXED, MOVING, LANDMARKS):
        (pair / src.name).write_bytes(src.read_bytes())
    out_dir = tmp_path / "out"
    result = invoke("register", "--pairs-dir", tmp_path / "data", "--out-dir", out_dir, "--method", "classic")
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out_dir / "summary.csv").iloc[0]
    assert row["status"] == "ok" and row["lm_mean"] < 10


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_match_writes_original_pixel_matches(tmp_path: Path, suffix: str) -> None:
    out, plot = tmp_path / f"m{suffix}", tmp_path / "plot.png"
    result = invoke("match", FIXED, MOVING, "-o", out, "--plot", plot, "--method", "classic")
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        table = pd.read_csv(out)
        assert list(table.columns) == ["x_fixed", "y_fixed", "x_moving", "y_moving", "confidence", "inlier"]
    else:
        data = json.loads(out.read_text())
        table = pd.DataFrame(data["matches"], columns=data["columns"])
    assert len(table) >= 10 and table["inlier"].sum() >= 10
    assert read_image(plot).shape[0] == 640
    assert table["x_fixed"].max() < 640 and table["y_moving"].max() < 530


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--pictures", "overlay,bogus"], "error: --pictures 'bogus': choose from checkerboard, overlay, matches"),
        (["--pictures", "overlay", "FIXED", "MOVING"], "error: give FIXED MOVING or --pairs/--pairs-dir, not both"),
    ],
)
def test_pictures_is_the_batch_switch(tmp_path: Path, args: list[str], line: str) -> None:
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"fixed": [str(FIXED)], "moving": [str(MOVING)]}).to_csv(pairs, index=False)
    args = [str(FIXED) if a == "FIXED" else str(MOVING) if a == "MOVING" else a for a in args]
    result = invoke("register", *args, "--pairs", pairs, "--out-dir", tmp_path / "o")
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1] == line, result.output
    one = invoke("register", FIXED, MOVING, "-o", tmp_path / "x.png", "--pictures", "overlay")
    assert one.exit_code == 2 and "--pictures applies to batch mode" in one.output, one.output
