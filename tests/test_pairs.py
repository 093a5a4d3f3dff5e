"""Pair layouts (landmarks-csv, numbered-pairs, custom specs) and every validation error of find_pairs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from vreg_cli.data.pairs import find_pairs
from vreg_cli.errors import VregError
from vreg_cli.paths import SAMPLE_DIR

TINY_HW = (48, 64)  # (H, W) of the synthetic images of the validation tests


def _png(path: Path, hw: tuple[int, int] = TINY_HW) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(hw, 128, np.uint8))


def _xy(path: Path, pts: np.ndarray | list) -> None:
    path.write_text("".join(f"{x} {y}\n" for x, y in pts))


POINTS = np.array([[5.0, 6.0], [20.0, 30.0], [60.0, 40.0], [33.5, 12.25]])


def numbered_pair(root: Path, rel: str, pts_fixed=POINTS, pts_moving=POINTS + 1) -> Path:
    """Write <root>/<rel>_01.png, _02.png, _01.txt, _02.txt (tiny images); returns the fixed image path."""
    base = root / rel
    _png(base.with_name(base.name + "_01.png"))
    _png(base.with_name(base.name + "_02.png"))
    _xy(base.with_name(base.name + "_01.txt"), pts_fixed)
    _xy(base.with_name(base.name + "_02.txt"), pts_moving)
    return base.with_name(base.name + "_01.png")


def sample_as_numbered(root: Path) -> Path:
    """The bundled real pair converted into the users' numbered layout: <root>/eye1/visit/p01_0{1,2}.{png,txt}."""
    folder = root / "eye1" / "visit"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLE_DIR / "fixed.png", folder / "p01_01.png")
    shutil.copy(SAMPLE_DIR / "moving.png", folder / "p01_02.png")
    lm = pd.read_csv(SAMPLE_DIR / "landmarks.csv")
    _xy(folder / "p01_01.txt", lm[["x_fixed", "y_fixed"]].to_numpy())
    _xy(folder / "p01_02.txt", lm[["x_moving", "y_moving"]].to_numpy())
    return root


def test_landmarks_csv_layout_reads_the_sample(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_DIR, tmp_path / "pair_a")
    pairs, bad = find_pairs(tmp_path, "landmarks-csv")
    assert bad == [] and [p.name for p in pairs] == ["pair_a"]
    lm = pd.read_csv(SAMPLE_DIR / "landmarks.csv")
    np.testing.assert_allclose(pairs[0].fixed_points, lm[["x_fixed", "y_fixed"]].to_numpy())
    np.testing.assert_allclose(pairs[0].moving_points, lm[["x_moving", "y_moving"]].to_numpy())
    # A pair folder may also be the root itself; the pair then takes the folder's name.
    pairs, _ = find_pairs(SAMPLE_DIR, "landmarks-csv")
    assert [p.name for p in pairs] == ["sample"]


def test_numbered_pairs_from_the_real_sample_match_its_landmarks(tmp_path: Path) -> None:
    pairs, bad = find_pairs(sample_as_numbered(tmp_path), "numbered-pairs")
    assert bad == [] and [p.name for p in pairs] == ["eye1/visit/p01"]
    assert pairs[0].moving.name == "p01_02.png"
    lm = pd.read_csv(SAMPLE_DIR / "landmarks.csv")
    np.testing.assert_allclose(pairs[0].fixed_points, lm[["x_fixed", "y_fixed"]].to_numpy())
    np.testing.assert_allclose(pairs[0].moving_points, lm[["x_moving", "y_moving"]].to_numpy())


def test_numbered_pairs_any_depth_comments_and_commas(tmp_path: Path) -> None:
    numbered_pair(tmp_path, "top")
    numbered_pair(tmp_path, "a/b/c/deep")
    (tmp_path / "a/b/c/deep_01.txt").write_text("# x y\n5,6\n\n20\t30\n60 40  # corner\n33.5 12.25\n")
    pairs, bad = find_pairs(tmp_path, "numbered-pairs")
    assert bad == [] and [p.name for p in pairs] == ["a/b/c/deep", "top"]
    np.testing.assert_allclose(pairs[0].fixed_points, POINTS)


BAD_CASES = {
    "different counts": (lambda r: _xy(r / "bad_02.txt", POINTS[:3]), "bad_02.txt", "same count"),
    "unparsable line": (lambda r: (r / "bad_01.txt").write_text("1 2\n3 4\nfoo bar\n5 6\n"), "bad_01.txt:3", "parse"),
    "three numbers": (lambda r: (r / "bad_01.txt").write_text("1 2\n3 4 5\n5 6\n7 8\n"), "bad_01.txt:2", "parse"),
    "too few points": (
        lambda r: (_xy(r / "bad_01.txt", POINTS[:2]), _xy(r / "bad_02.txt", POINTS[:2])),
        "bad_01.txt",
        "at least 3",
    ),
    "fixed point outside": (
        lambda r: _xy(r / "bad_01.txt", [*POINTS[:3], [64.6, 10.0]]),
        "bad_01.txt",
        "outside bad_01.png",
    ),
    "moving point outside": (
        lambda r: _xy(r / "bad_02.txt", [*POINTS[:3], [10.0, -3.0]]),
        "bad_02.txt",
        "outside bad_02.png",
    ),
    "no moving image": (lambda r: (r / "bad_02.png").unlink(), "bad_01.png", "no moving image bad_02.png"),
    "missing point file": (lambda r: (r / "bad_02.txt").unlink(), "bad_02.txt", "missing point file"),
    "corrupt image": (lambda r: (r / "bad_02.png").write_bytes(b"not a png"), "bad_02.png", "not a readable image"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_numbered_pairs_validation_errors(tmp_path: Path, case: str) -> None:
    break_it, where, reason = BAD_CASES[case]
    numbered_pair(tmp_path, "good")
    numbered_pair(tmp_path, "bad")
    break_it(tmp_path)
    with pytest.raises(VregError, match="--skip-bad") as info:
        find_pairs(tmp_path, "numbered-pairs")
    assert where in str(info.value) and reason in str(info.value)
    pairs, bad = find_pairs(tmp_path, "numbered-pairs", skip_bad=True)
    assert [p.name for p in pairs] == ["good"]
    assert len(bad) == 1 and where in bad[0][0] and reason in bad[0][1]


def test_points_on_the_edge_pixels_are_inside(tmp_path: Path) -> None:
    h, w = TINY_HW
    edge = np.array([[0, 0], [w - 1, h - 1], [-0.5, h - 0.5], [10, 10]], float)
    numbered_pair(tmp_path, "edge", edge, edge)
    pairs, _ = find_pairs(tmp_path, "numbered-pairs")
    np.testing.assert_allclose(pairs[0].fixed_points, edge)


def _csv_pair(root: Path, name: str, text: str | None) -> None:
    _png(root / name / "fixed.png")
    _png(root / name / "moving.png")
    if text is not None:
        (root / name / "landmarks.csv").write_text(text)


GOOD_CSV = "x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n5,6,7,8\n9,10,11,12\n"


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (None, "landmarks.csv", "missing landmarks file"),
        ("x_fixed,y_fixed,x_moving\n1,2,3\n4,5,6\n7,8,9\n", "landmarks.csv", "missing column(s) y_moving"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n5,x,7,8\n9,10,11,12\n", "landmarks.csv:3", "cannot parse"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n", "landmarks.csv", "only 1 point(s)"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n5,6,7,8\n9,100,11,12\n", "landmarks.csv", "outside fixed.png"),
    ],
)
def test_landmarks_csv_validation_errors(tmp_path: Path, text: str | None, where: str, reason: str) -> None:
    _csv_pair(tmp_path, "good", GOOD_CSV)
    _csv_pair(tmp_path, "bad", text)
    with pytest.raises(VregError) as info:
        find_pairs(tmp_path, "landmarks-csv")
    assert where in str(info.value) and reason in str(info.value)
    pairs, bad = find_pairs(tmp_path, "landmarks-csv", skip_bad=True)
    assert [p.name for p in pairs] == ["good"] and len(bad) == 1


def test_custom_spec_by_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _png(data / "p1_cf.png")
    _png(data / "p1_fa.png")
    _xy(data / "p1.pts", POINTS)  # unused: this spec has no points
    spec = tmp_path / "mine.toml"
    spec.write_text('kind = "pairs"\nfixed = "*_cf.png"\nfixed_suffix = "_cf.png"\nmoving = "{dir}/{base}_fa.png"\n')
    pairs, _ = find_pairs(data, str(spec))
    assert [(p.name, p.moving.name, p.fixed_points) for p in pairs] == [("p1", "p1_fa.png", None)]


def test_layout_and_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(VregError, match="unknown pairs layout 'nope'.*numbered-pairs"):
        find_pairs(tmp_path, "nope")
    with pytest.raises(VregError, match="no such folder"):
        find_pairs(tmp_path / "missing", "numbered-pairs")
    with pytest.raises(VregError, match="no pairs in layout 'numbered-pairs'"):
        find_pairs(tmp_path, "numbered-pairs")
    numbered_pair(tmp_path, "only")
    (tmp_path / "only_02.png").unlink()
    with pytest.raises(VregError, match="1 bad pair"):
        find_pairs(tmp_path, "numbered-pairs", skip_bad=True)
