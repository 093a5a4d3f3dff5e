"""Build the dev pair folder (the ``landmarks-csv`` layout) from a clone of the public MMIM database.

The multimodal image matching database of Jiang et al. ("A review of multimodal image matching: methods and
applications", Information Fusion 2021) is a git repository:

    git clone https://github.com/StaRainJ/Multi-modality-image-matching-database-metrics-methods mmim

Its retina part, ``Multimodal_Image_Matching_Datasets/Medical/Retina/``, holds for each pair id N:
``RetinaFix_N.png`` (the fluorescein angiogram), ``RetinaMove_N.png`` (the colour fundus photo, on the same canvas)
and ``Retina_N.mat`` (MATLAB: ``Landmarks.LMfix`` / ``Landmarks.LMmov``, 20 hand-marked (x, y) points on each image,
1-based pixels; also the images and a transform). vreg registers the angiogram onto the photo, so each pair folder
gets:

- ``fixed.png``: ``RetinaMove_N.png`` (the colour fundus photo), copied byte for byte;
- ``moving.png``: ``RetinaFix_N.png`` (the angiogram), copied byte for byte;
- ``landmarks.csv``: ``x_fixed,y_fixed,x_moving,y_moving`` = ``LMmov - 1``, ``LMfix - 1`` (0-based pixels).

``--ids`` (default: the 8 dev pairs 24, 34, 52, 67, 80, 89, 93, 102) picks the pairs; ``OUT/pair_NNN/`` is written
for each, all or none (temporary files renamed only when every pair was read). Usage:

    python3 experiments/build_mmim_pairs.py --mmim mmim --out out/mmim_retina_dev
    export VREG_DEV_PAIRS=$PWD/out/mmim_retina_dev   # what the just bench-* recipes read
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vreg_cli.errors import VregError
from vreg_cli.io import LANDMARK_COLUMNS, read_image
from vreg_cli.paths import atomic_output, output_group

REPOSITORY = "https://github.com/StaRainJ/Multi-modality-image-matching-database-metrics-methods"
RETINA = Path("Multimodal_Image_Matching_Datasets") / "Medical" / "Retina"
DEV_IDS = (24, 34, 52, 67, 80, 89, 93, 102)


@dataclass(frozen=True)
class MmimPair:
    """One retina pair of the clone: the photo (vreg's fixed image), the angiogram (moving) and the landmarks,
    (N, 2) float64 0-based pixels on each."""

    pair_id: int
    photo: Path
    angiogram: Path
    fixed_points: np.ndarray
    moving_points: np.ndarray


def retina_folder(clone: Path) -> Path:
    """The clone's retina folder; VregError (one line) when CLONE is missing or not a clone of the database."""
    if not clone.is_dir():
        raise VregError(f"{clone}: no such folder (clone {REPOSITORY} there)")
    folder = clone / RETINA
    if not folder.is_dir():
        raise VregError(f"{clone}: not a clone of the MMIM database (no {RETINA.as_posix()}; clone {REPOSITORY})")
    return folder


def read_landmarks_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(LMfix, LMmov) of a ``Retina_N.mat``: (N, 2) float64, as stored (1-based (x, y)); VregError when the file is
    not a MATLAB file or has no such landmarks."""
    from scipy.io import loadmat

    try:
        data = loadmat(path, variable_names=["Landmarks"])
        marks = data["Landmarks"][0, 0]
        fix, mov = (np.asarray(marks[key], np.float64) for key in ("LMfix", "LMmov"))
    except (OSError, ValueError, TypeError, KeyError, IndexError, NotImplementedError) as exc:
        raise VregError(f"{path}: no Landmarks.LMfix / LMmov in it, not the MMIM retina format ({exc})") from None
    if fix.ndim != 2 or fix.shape[1] != 2 or fix.shape != mov.shape or len(fix) < 3 or not np.isfinite(fix).all():
        raise VregError(f"{path}: LMfix {fix.shape} and LMmov {mov.shape} are not two equal (N, 2) lists, N >= 3")
    if not np.isfinite(mov).all():
        raise VregError(f"{path}: LMmov holds values that are not numbers")
    return fix, mov


def read_pair(folder: Path, pair_id: int) -> MmimPair:
    """Pair PAIR_ID of the retina FOLDER, checked (files present, one canvas size, landmarks on it)."""
    photo, angiogram = folder / f"RetinaMove_{pair_id}.png", folder / f"RetinaFix_{pair_id}.png"
    mat = folder / f"Retina_{pair_id}.mat"
    for path in (photo, angiogram, mat):
        if not path.is_file():
            raise VregError(f"{path}: no such file (pair {pair_id} is not in this clone)")
    shapes = {path: read_image(path).shape[:2] for path in (photo, angiogram)}  # each decodes (one line if not)
    if len(set(shapes.values())) != 1:
        shown = ", ".join(f"{p.name} {w}x{h}" for p, (h, w) in shapes.items())
        raise VregError(f"{folder}: pair {pair_id} is not two images on one canvas ({shown})")
    lm_fix, lm_mov = read_landmarks_mat(mat)
    fixed_points, moving_points = lm_mov - 1.0, lm_fix - 1.0  # MATLAB's 1-based pixels -> 0-based
    height, width = shapes[photo]
    for points in (fixed_points, moving_points):
        if (points < -0.5).any() or (points[:, 0] > width - 0.5).any() or (points[:, 1] > height - 0.5).any():
            raise VregError(f"{mat}: landmarks outside the {width}x{height} images")
    return MmimPair(pair_id, photo, angiogram, fixed_points, moving_points)


def write_pairs(pairs: list[MmimPair], out: Path) -> list[Path]:
    """OUT/pair_NNN/{fixed.png, moving.png, landmarks.csv} for each pair, all or none; the folders written."""
    folders = []
    with output_group():
        for pair in pairs:
            folder = out / f"pair_{pair.pair_id:03d}"
            for source, name in ((pair.photo, "fixed.png"), (pair.angiogram, "moving.png")):
                with atomic_output(folder / name) as tmp:
                    shutil.copyfile(source, tmp)
            with atomic_output(folder / "landmarks.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(LANDMARK_COLUMNS)
                rows = np.hstack([pair.fixed_points, pair.moving_points])
                writer.writerows([f"{v:.2f}" for v in row] for row in rows)
            folders.append(folder)
    return folders


def parse_ids(text: str) -> tuple[int, ...]:
    """``24,34,...`` -> (24, 34, ...): positive, distinct pair ids; VregError otherwise."""
    try:
        ids = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise VregError(f"--ids {text!r}: give pair ids as whole numbers, e.g. 24,34,52") from None
    if not ids or min(ids) < 1 or len(set(ids)) != len(ids):
        raise VregError(f"--ids {text!r}: give distinct positive pair ids, e.g. 24,34,52")
    return ids


def main(argv: list[str] | None = None) -> int:
    """Build the pair folders; a user error is one line on stderr and exit code 2."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mmim", type=Path, required=True, help=f"a clone of {REPOSITORY}")
    ap.add_argument("--out", type=Path, required=True, help="the pairs folder to write (OUT/pair_NNN/)")
    ap.add_argument("--ids", default=",".join(map(str, DEV_IDS)), help="comma-separated pair ids (default: dev set)")
    args = ap.parse_args(argv)
    try:
        folder = retina_folder(args.mmim)
        pairs = [read_pair(folder, pair_id) for pair_id in parse_ids(args.ids)]
        written = write_pairs(pairs, args.out)
    except VregError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} pairs in {args.out}: {', '.join(p.name for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
