"""docs/experiments.md's CF-OCT picture: register the CF-OCT en-face sample with classic and draw the checkerboard in
the OCT image's frame (the CF warped onto it), where its small field of view fills the picture.

    python3 experiments/cf_oct_picture.py ../shared/data/samples docs/classic_cf_oct_checkerboard.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vreg_cli.geometry import warp_image
from vreg_cli.io import read_image, to_rgb, write_image
from vreg_cli.methods import build_method
from vreg_cli.registration import register_pair
from vreg_cli.viz import checkerboard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", type=Path, help="folder with cf_oct_fixed.png and cf_oct_moving.png")
    ap.add_argument("out", type=Path)
    ap.add_argument("--method", default="classic")
    args = ap.parse_args()
    fixed = read_image(args.samples / "cf_oct_fixed.png")
    moving = read_image(args.samples / "cf_oct_moving.png")
    reg = register_pair(fixed, moving, build_method(args.method).method)
    cf_in_oct = warp_image(to_rgb(fixed), np.linalg.inv(reg.matrix), moving.shape[:2])
    write_image(args.out, checkerboard(to_rgb(moving), cf_in_oct))
    p = reg.parts
    print(
        f"{args.out}: {reg.inliers} inliers, rotation {p.rotation_deg:.1f} deg, scale {p.scale:.3f}, "
        f"{reg.seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
