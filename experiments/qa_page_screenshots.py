"""The screenshots of docs/qa.md: a real batch on the bundled CF-FA pair, then its QA page in headless Chromium.

The batch: the bundled moving (FA) image rotated by 0-180 degrees and scaled 0.9-1.1 (7 pairs that register), the FA
mirrored (the other eye's picture: refused), noise (refused) and a corrupt file (an error), run with
``vreg register --pairs pairs.csv --out-dir OUT`` and then ``vreg qa OUT``. Writes docs/qa_page.png (the table) and
docs/qa_page_swipe.png (one pair's full-size swipe view), reduced to 256 colours so that each stays under 300 KB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Chromium helper the page's tests use

from browser_helpers import screenshot  # noqa: E402

from vreg_cli.paths import SAMPLE_DIR  # noqa: E402

COPIES = ((0, 1.0), (10, 1.0), (25, 0.9), (45, 1.0), (90, 1.1), (150, 1.0), (180, 0.95))


def make_pairs(folder: Path) -> Path:
    """folder/pairs.csv and its images (see the module docstring)."""
    moving = cv2.imread(str(SAMPLE_DIR / "moving.png"))
    h, w = moving.shape[:2]
    lines = ["fixed,moving,name"]
    for angle, scale in COPIES:
        rotated = cv2.warpAffine(moving, cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), (w, h))
        cv2.imwrite(str(folder / f"fa_rot{angle}.png"), rotated)
        lines.append(f"{SAMPLE_DIR / 'fixed.png'},fa_rot{angle}.png,fa_rot{angle:03d}_scale{scale:g}")
    cv2.imwrite(str(folder / "fa_mirrored.png"), cv2.flip(moving, 1))
    cv2.imwrite(str(folder / "noise.png"), np.random.default_rng(0).integers(0, 255, (h, w), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    negatives = (("fa_mirrored.png", "other_eye (mirrored FA)"), ("noise.png", "noise"), ("broken.png", "corrupt_file"))
    lines += [f"{SAMPLE_DIR / 'fixed.png'},{name},{label}" for name, label in negatives]
    (folder / "pairs.csv").write_text("\n".join(lines) + "\n")
    return folder / "pairs.csv"


def small_png(src: Path, dst: Path) -> None:
    """``src`` as a 256-colour PNG at ``dst`` (screenshots of thumbnails stay legible, the file under 300 KB)."""
    from PIL import Image

    image = Image.open(src).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(dst, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--work", type=Path, default=None, help="folder for the batch (default: a temp folder)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vreg-qa-shots-"))
    work.mkdir(parents=True, exist_ok=True)
    pairs = make_pairs(work)
    vreg = [sys.executable, "-m", "vreg_cli"]
    done = subprocess.run([*vreg, "register", "--pairs", str(pairs), "--out-dir", "out"], cwd=work, check=False)
    if done.returncode not in (0, 2, 3):  # 2 / 3: some pair errored / was refused, as intended
        raise SystemExit(f"vreg register failed ({done.returncode})")
    subprocess.run([*vreg, "qa", "out"], cwd=work, check=True)
    url = (work / "out" / "index.html").resolve().as_uri()
    for name, fragment in (("qa_page", ""), ("qa_page_swipe", "#pair=fa_rot045_scale1")):
        shot = screenshot(url + fragment, work / f"{name}.png")
        small_png(shot, args.docs / f"{name}.png")
        print(f"{args.docs / name}.png: {(args.docs / f'{name}.png').stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
