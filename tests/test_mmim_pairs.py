"""``experiments/build_mmim_pairs.py`` (``just mmim-pairs``) on a fake tiny clone in the MMIM repository's layout:
the retina folder's ``RetinaFix_N.png`` (angiogram), ``RetinaMove_N.png`` (photo) and ``Retina_N.mat`` (1-based
``Landmarks.LMfix`` / ``LMmov``)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.io import savemat
from script_modules import load_script

from vreg_cli.data.pairs import find_pairs
from vreg_cli.io import read_landmarks, write_image

ROOT = Path(__file__).resolve().parents[1]
RETINA = Path("Multimodal_Image_Matching_Datasets/Medical/Retina")


BUILD = load_script("experiments/build_mmim_pairs.py")


def _clone(root: Path, ids: tuple[int, ...] = (7, 12), hw: tuple[int, int] = (48, 64)) -> Path:
    """A clone with pairs IDS: a colour photo and a grey-in-RGB angiogram of HW, 20 landmarks each (uint16, 1-based,
    as MATLAB stores them), and the .mat's other variables (the images and a transform) as the real files have."""
    folder = root / RETINA
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    h, w = hw
    for pair_id in ids:
        photo = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        angiogram = np.repeat(rng.integers(0, 255, (h, w, 1), dtype=np.uint8), 3, axis=2)
        write_image(folder / f"RetinaMove_{pair_id}.png", photo)
        write_image(folder / f"RetinaFix_{pair_id}.png", angiogram)
        lm_fix = np.stack([rng.integers(1, w + 1, 20), rng.integers(1, h + 1, 20)], axis=1).astype(np.uint16)
        lm_mov = np.stack([rng.integers(1, w + 1, 20), rng.integers(1, h + 1, 20)], axis=1).astype(np.uint16)
        landmarks = {"LMfix": lm_fix, "LMmov": lm_mov}
        savemat(folder / f"Retina_{pair_id}.mat", {"I_fix": angiogram, "I_move": photo, "Landmarks": landmarks,
                                                   "T": np.eye(3)})  # fmt: skip
    return root


def test_the_pairs_are_the_photo_fixed_the_angiogram_moving_and_0_based_landmarks(tmp_path: Path) -> None:
    clone, out = _clone(tmp_path / "mmim"), tmp_path / "pairs"
    assert BUILD.main(["--mmim", str(clone), "--out", str(out), "--ids", "12,7"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["pair_007", "pair_012"]
    for pair_id in (7, 12):
        folder, source = out / f"pair_{pair_id:03d}", clone / RETINA
        assert sorted(p.name for p in folder.iterdir()) == ["fixed.png", "landmarks.csv", "moving.png"]
        assert (folder / "fixed.png").read_bytes() == (source / f"RetinaMove_{pair_id}.png").read_bytes()
        assert (folder / "moving.png").read_bytes() == (source / f"RetinaFix_{pair_id}.png").read_bytes()
        text = (folder / "landmarks.csv").read_text()
        assert text.startswith("x_fixed,y_fixed,x_moving,y_moving\n") and text.count("\n") == 21
        from scipy.io import loadmat

        marks = loadmat(source / f"Retina_{pair_id}.mat")["Landmarks"][0, 0]
        fixed, moving = read_landmarks(folder / "landmarks.csv")
        assert np.array_equal(fixed, marks["LMmov"].astype(float) - 1)  # the photo's points, 0-based
        assert np.array_equal(moving, marks["LMfix"].astype(float) - 1)
    records, _ = find_pairs(out, "landmarks-csv")  # what vreg benchmark --pairs-dir reads
    assert [r.name for r in records] == ["pair_007", "pair_012"] and records[0].fixed_points is not None


@pytest.mark.parametrize(
    ("make", "args", "words"),
    [
        (lambda tmp: tmp / "missing", [], "no such folder"),
        (lambda tmp: tmp, [], "not a clone of the MMIM database"),
        (lambda tmp: _clone(tmp / "mmim"), ["--ids", "7,99"], "RetinaMove_99.png: no such file"),
        (lambda tmp: _clone(tmp / "mmim"), ["--ids", "7,x"], "--ids '7,x'"),
        (lambda tmp: _broken_mat(_clone(tmp / "mmim")), [], "no Landmarks.LMfix / LMmov"),
        (lambda tmp: _other_size(_clone(tmp / "mmim")), [], "not two images on one canvas"),
    ],
)
def test_an_odd_clone_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, args: list[str], words: str
) -> None:
    clone = make(tmp_path)  # type: ignore[operator]
    out = tmp_path / "pairs"
    assert BUILD.main(["--mmim", str(clone), "--out", str(out), *(args or ["--ids", "7,12"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert not out.exists()  # all or none: pair 7 was fine, yet nothing is written


def _broken_mat(clone: Path) -> Path:
    savemat(clone / RETINA / "Retina_12.mat", {"T": np.eye(3)})
    return clone


def _other_size(clone: Path) -> Path:
    write_image(clone / RETINA / "RetinaFix_12.png", np.zeros((30, 30), np.uint8))
    return clone


def test_a_write_that_fails_midway_leaves_no_pair_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or none while writing too: a full disk at the second pair keeps the first one's files out of OUT."""
    clone, out = _clone(tmp_path / "mmim"), tmp_path / "pairs"
    copies: list[Path] = []

    def copy_until_full(source: Path, target: Path) -> None:
        copies.append(target)
        if len(copies) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        shutil.copyfile(source, target)

    monkeypatch.setattr(BUILD, "shutil", SimpleNamespace(copyfile=copy_until_full))  # the builder's shutil
    assert BUILD.main(["--mmim", str(clone), "--out", str(out), "--ids", "7,12"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "pair_012" in err, err
    assert [p for p in out.rglob("*") if p.is_file()] == []
