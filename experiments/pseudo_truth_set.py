"""Build a stress set from one real, unannotated pair: classic's full-view registration as pseudo ground truth.

A real angiogram or OCT en-face image differs from the renderings of ``experiments/smallfov_tuning_set.py`` (late-phase
FA texture, laser scars, faint vessels). This script turns a real pair that has no landmarks, such as the MIFNet
samples in ``../shared/data/samples`` (not the dev pairs), into ``landmarks-csv`` pair folders for
``vreg benchmark --protocol smallfov``:

1. ``classic`` registers the whole pair (full view: its easy case). Its affine is the pseudo ground truth; check the
   checkerboard it writes (``OUT/<name>_checkerboard.png``) before trusting the set.
2. Landmarks are placed where a person would mark them: 20 points on the strongest vessels of the moving image inside
   the overlap, spread out by farthest-point sampling, mapped to the fixed image by the pseudo truth. The benchmark's
   "at least 6 landmarks in view" then keeps windows with vessels in them, as on hand-marked pairs.
3. ``--copies`` renamed copies (``<name>_00`` ...): the benchmark seeds every case by the pair's name, so each copy
   draws other windows and angles.

Errors are relative to a global affine, so a correct local registration of a small window can differ from it by a
few pixels on a curved retina. Usage:

    python3 experiments/pseudo_truth_set.py ../shared/data/samples/cf_fa_fixed.png \\
        ../shared/data/samples/cf_fa_moving.png out/tune_mf_fa --name cf_fa --copies 20
    vreg benchmark --pairs-dir out/tune_mf_fa --protocol smallfov --bins 0,45,90,135,180 --method classic
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vreg_cli.errors import VregError
from vreg_cli.geometry import warp_image, warp_points
from vreg_cli.io import LANDMARK_COLUMNS, read_registrable, write_csv, write_image
from vreg_cli.methods import build_method
from vreg_cli.methods.classic import ClassicOptions
from vreg_cli.registration import register_pair
from vreg_cli.vessels import erode_mask, fov_mask, vessel_channel
from vreg_cli.viz import checkerboard


def _or_nan(value: float | None) -> float:
    """VALUE, or NaN when the method did not report it."""
    return float("nan") if value is None else value


def vessel_landmarks(moving: np.ndarray, inside: np.ndarray, n: int, margin: int) -> np.ndarray:
    """(n, 2) points (x, y) of MOVING on its strongest vessels (top 3 % of the vessel map inside the mask INSIDE,
    at least MARGIN px from its border), spread out by farthest-point sampling."""
    strength = ClassicOptions().at_side(max(moving.shape[:2])).vessel_map(moving).strength
    keep = erode_mask(inside, margin)
    if keep.sum() < n:
        raise ValueError("the overlap of the two images is too small for landmarks")
    cand = keep & (strength >= np.quantile(strength[keep], 0.97))
    ys, xs = np.nonzero(cand)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    picked = [int(np.argmax(strength[ys, xs]))]
    dist = np.linalg.norm(pts - pts[picked[0]], axis=1)
    for _ in range(n - 1):
        picked.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(pts - pts[picked[-1]], axis=1))
    return pts[picked]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fixed", type=Path)
    ap.add_argument("moving", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--name", default="pair", help="folder name prefix of the copies")
    ap.add_argument("--copies", type=int, default=20, help="renamed copies (each draws other cases)")
    ap.add_argument("--points", type=int, default=20, help="landmarks per pair")
    ap.add_argument("--method", default="classic", help="the method spec that makes the pseudo truth")
    args = ap.parse_args()
    if args.copies < 1 or args.points < 6:
        print("error: --copies must be at least 1 and --points at least 6", file=sys.stderr)
        return 2
    try:
        fixed, moving = read_registrable(args.fixed), read_registrable(args.moving)
        reg = register_pair(fixed, moving, build_method(args.method).method)
    except (OSError, VregError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    m = reg.matrix
    hw_m = moving.shape[:2]
    fixed_fov = fov_mask(vessel_channel(fixed)).astype(np.uint8)
    overlap = fov_mask(vessel_channel(moving)) & (warp_image(fixed_fov, np.linalg.inv(m), hw_m) > 0)
    try:
        pm = vessel_landmarks(moving, overlap, args.points, margin=round(0.03 * max(hw_m)))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    pf = warp_points(m, pm)
    table = pd.DataFrame(np.hstack([pf, pm]).round(2), columns=list(LANDMARK_COLUMNS))
    args.out.mkdir(parents=True, exist_ok=True)
    write_image(args.out / f"{args.name}_checkerboard.png", checkerboard(fixed, warp_image(moving, m, fixed.shape[:2])))
    for k in range(args.copies):
        d = args.out / f"{args.name}_{k:02d}"
        d.mkdir(exist_ok=True)
        shutil.copyfile(args.fixed, d / "fixed.png")
        shutil.copyfile(args.moving, d / "moving.png")
        write_csv(d / "landmarks.csv", table)
    info = reg.matches.info
    print(
        f"{args.copies} copies of {args.name} in {args.out}: pseudo truth by {args.method} "
        f"(rotation {_or_nan(info.rotation_deg):.1f} deg, scale {_or_nan(info.scale):.3f}, "
        f"{info.inliers} inlier patches), {len(pm)} landmarks"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
