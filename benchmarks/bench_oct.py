"""Reading an OCT volume and making its pictures (`just bench-oct`): the figure in docs/oct-and-dicom.md.

Writes a HEYEX VOL of ``--bscans`` B-scans of ``--depth`` x ``--width`` (default 49 x 496 x 512, a Spectralis
volume scan) with a 768 x 768 localizer, built from the bundled moving image (``experiments/oct_demo_volume.py``),
then times ``vreg_cli.read_volume`` for the en-face picture and for the localizer:

- **cold**: a fresh ``python`` process per run, the time from before ``read_volume`` is imported to after it returns
  (eyepy's import included), median of ``--repeat`` runs;
- **warm**: in one process after a first call, median of ``--repeat`` calls.

``--choice`` measures instead which picture registers better (the default of ``--oct-image``): volumes of 49, 97
and 371 B-scans over the central 70 % of a moving image (``--moving``, default the bundled one), the whole image as
the localizer, each picture registered onto ``--fixed`` with ``--method``. It reports whether each is trusted, and
either the hand-marked landmarks' mean error (``--landmarks``, the bundled pair's by default) or, without landmarks,
how far the image corners land from where registering the moving image itself puts them.

Results: a table and ``--out`` JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_COLD = """
import sys, time
t = time.perf_counter()
from vreg_cli.octvolume import read_volume
read_volume(sys.argv[1], sys.argv[2])
print(time.perf_counter() - t)
"""


def _demo():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("oct_demo_volume", ROOT / "experiments" / "oct_demo_volume.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_volume(path: Path, bscans: int, depth: int, width: int) -> None:
    """A VOL of ``bscans`` x ``depth`` x ``width`` over the bundled moving image, resized to a 768 px localizer."""
    demo = _demo()
    image = cv2.imread(str(ROOT / "data_specs" / "sample" / "moving.png"), cv2.IMREAD_GRAYSCALE)
    image = cv2.resize(image, (768, 768), interpolation=cv2.INTER_LINEAR)
    x0 = (768 - width) // 2
    scan = demo.demo_scan(image, (x0, 128, x0 + width - 1, 640), bscans)
    rng = np.random.default_rng(0)
    profile = rng.uniform(0.5, 1.5, depth).astype(np.float32)  # a depth profile whose mean is about 1
    raw = demo.to_raw(scan["enface"], profile / profile.mean())
    demo.write_heyex_vol(path, scan, raw)


def picture_choice(fixed: Path, moving: Path, landmarks: Path | None, method: str) -> list[dict[str, object]]:
    """For 49, 97 and 371 B-scans: each picture's registration (trusted?, landmark error or corner gap in px)."""
    import vreg_cli
    from vreg_cli.io import read_landmarks
    from vreg_cli.read_options import OCT_IMAGES, ReadOptions

    demo = _demo()
    image = cv2.imread(str(moving), cv2.IMREAD_GRAYSCALE)
    h, w = image.shape
    box = (round(0.15 * w), round(0.15 * h), round(0.85 * w), round(0.85 * h))
    points = read_landmarks(landmarks) if landmarks else None
    whole = vreg_cli.register(fixed, image, method)
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for bscans in (49, 97, 371):
            path = Path(tmp) / f"scan{bscans}.vol"
            demo.write_heyex_vol(path, demo.demo_scan(image, box, bscans))
            for which in OCT_IMAGES:
                volume = vreg_cli.read_volume(path, which)
                reg = vreg_cli.register(fixed, volume, method, read=ReadOptions(oct_image=which))
                row: dict[str, object] = {"bscans": bscans, "picture": which, "ok": reg.ok}
                if reg.matrix is not None:
                    to_image = np.linalg.inv(volume.localizer_from_image)  # the moving image's pixels are localizer's
                    if points is not None:
                        mapped = cv2.perspectiveTransform(points[1].reshape(-1, 1, 2), reg.matrix @ to_image)
                        row["lm_mean_px"] = round(
                            float(np.linalg.norm(mapped.reshape(-1, 2) - points[0], axis=1).mean()), 2
                        )
                    elif whole.matrix is not None:
                        got = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), reg.matrix @ to_image)
                        ref = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), whole.matrix)
                        row["corner_gap_px"] = round(float(np.abs(got - ref).max()), 2)
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sample = ROOT / "data_specs" / "sample"
    parser.add_argument("--choice", action="store_true", help="compare the en-face picture with the localizer")
    parser.add_argument("--fixed", type=Path, default=sample / "fixed.png", help="--choice: the fixed image")
    parser.add_argument("--moving", type=Path, default=sample / "moving.png", help="--choice: the moving image")
    parser.add_argument(
        "--landmarks", type=Path, default=None, help="--choice: landmarks CSV (default: the bundled pair's)"
    )
    parser.add_argument("--method", default="classic", help="--choice: the method (default classic)")
    parser.add_argument("--bscans", type=int, default=49)
    parser.add_argument("--depth", type=int, default=496)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.choice:
        landmarks = args.landmarks or (sample / "landmarks.csv" if args.moving == sample / "moving.png" else None)
        rows = picture_choice(args.fixed, args.moving, landmarks, args.method)
        for row in rows:
            print("  ".join(f"{k} {v}" for k, v in row.items()))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(rows, indent=2) + "\n")
        return 0
    from vreg_cli.octvolume import read_volume

    results: dict[str, object] = {"bscans": args.bscans, "depth": args.depth, "width": args.width}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.vol"
        write_volume(path, args.bscans, args.depth, args.width)
        results["file_mb"] = round(path.stat().st_size / 2**20, 1)
        for which in ("enface", "localizer"):
            cold = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", _COLD, str(path), which],
                        capture_output=True,
                        text=True,
                        check=True,
                        cwd=ROOT,
                    ).stdout
                )  # fmt: skip
                for _ in range(args.repeat)
            ]
            read_volume(path, which)
            warm = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                read_volume(path, which)
                warm.append(time.perf_counter() - start)
            results[which] = {"cold_s": round(statistics.median(cold), 3), "warm_s": round(statistics.median(warm), 3)}
    print(f"{args.bscans} B-scans of {args.width}x{args.depth} ({results['file_mb']} MB):")
    for which in ("enface", "localizer"):
        r = results[which]
        print(
            f"  {which:9s} cold {r['cold_s']:.3f} s (fresh process, eyepy's import included), warm {r['warm_s']:.3f} s"
        )  # type: ignore[index]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
