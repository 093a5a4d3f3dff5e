"""Build a tuning set of annotated pairs that is NOT the evaluation set: real DRIVE colour fundus photos (fixed)
against FA-like and OCT-like images rendered from the same photo's manual vessel annotation (moving), and a rendered
CF (fixed) against the real photo's inverted green channel (moving).

The pairs are pixel-aligned, so the control points are a regular grid inside the field of view with identical fixed
and moving coordinates. Output: ``OUT/<id>_<modality>/{fixed.png, moving.png, landmarks.csv}`` (the ``landmarks-csv``
pair layout), ready for ``vreg benchmark --pairs-dir OUT --protocol smallfov``.

    python3 experiments/smallfov_tuning_set.py ../shared/data/drive out/tune --ids 21-40
    python3 experiments/smallfov_tuning_set.py ../shared/data/drive out/tune_realinv --ids 21-40 --kinds realinv

The second is the stress tuning set of ``classic`` (with harder windows: ``vreg benchmark --pairs-dir
out/tune_realinv --protocol smallfov --zoom 1.6,2.4 --blur 1,3 --noise 8,20 --gamma 0.5,2``).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.data.synth_render import render_cf, render_fa, render_oct
from vreg_cli.data.synth_vessels import VesselScene
from vreg_cli.geometry import grid_points
from vreg_cli.io import read_image, write_image


def _scene(vessel: np.ndarray, fov: np.ndarray) -> VesselScene:
    """A rendering scene from a square manual vessel mask and field of view ((S, S) bool each)."""
    size = vessel.shape[0]
    profile = cv2.GaussianBlur(vessel.astype(np.float32), (0, 0), 0.7).clip(0, 1)
    density = cv2.GaussianBlur(profile, (0, 0), 0.05 * size)
    dy, dx = np.unravel_index(int(np.argmax(density)), density.shape)
    toward = 1.0 if dx < (size - 1) / 2 else -1.0
    fovea = (float(dx) + toward * 0.31 * size, float(dy) + 0.02 * size)
    return VesselScene(np.zeros_like(profile), profile, vessel, fov, (float(dx), float(dy)), 0.05 * size, fovea)


def _square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    side = max(h, w)
    pad = [((side - h) // 2, side - h - (side - h) // 2), ((side - w) // 2, side - w - (side - w) // 2)]
    return np.pad(img, pad + [(0, 0)] * (img.ndim - 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drive", type=Path, help="DRIVE folder with images/, vessels/, fov/ (NN.png)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--ids", default="21-40", help="range 'a-b' of DRIVE ids")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step", type=int, default=48, help="control-point grid step (px)")
    ap.add_argument("--kinds", default="fa,oct,realinv", help="pair kinds to write, comma-separated")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.ids.split("-"))
    for k in range(lo, hi + 1):
        name = f"{k:02d}"
        cf = _square(read_image(args.drive / "images" / f"{name}.png"))
        vessel = _square(read_image(args.drive / "vessels" / f"{name}.png", "gray") > 127)
        fov = _square(read_image(args.drive / "fov" / f"{name}.png", "gray") > 127)
        scene = _scene(vessel, fov)
        rng = np.random.default_rng([args.seed, k])
        pts = grid_points(fov.shape, args.step, cv2.erode(fov.astype(np.uint8), np.ones((9, 9))) > 0)
        # fa, oct: real photo fixed, rendering moving. realinv: the roles of real and rendered swapped - a rendered
        # CF fixed and the real photo's inverted green channel moving (real vessel visibility, texture and noise)
        pairs = {"fa": (cf, render_fa(scene, rng)), "oct": (cf, render_oct(scene, rng))}
        pairs["realinv"] = (render_cf(scene, rng), 255 - cf[:, :, 1])
        for modality, (fixed, moving) in pairs.items():
            if modality not in args.kinds.split(","):
                continue
            d = args.out / f"{name}_{modality}"
            d.mkdir(parents=True, exist_ok=True)
            write_image(d / "fixed.png", fixed)
            write_image(d / "moving.png", moving)
            with open(d / "landmarks.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["x_fixed", "y_fixed", "x_moving", "y_moving"])
                w.writerows([[f"{x:.1f}", f"{y:.1f}", f"{x:.1f}", f"{y:.1f}"] for x, y in pts])
        print(name, len(pts), "points")


if __name__ == "__main__":
    main()
