"""How fast the QA page of a big batch is built and opened (`just bench-qa`).

A synthetic batch out-dir of ``--rows`` pairs (default 2,000: 80 % ok, 15 % refused, 5 % errors, inlier counts and
landmark errors drawn from a seeded generator) that all show the bundled CF-FA pair (the moving image warped onto the
fixed one with the affine fitted to its landmarks), each row with its own picture files. Measured:

- page build time: ``write_qa_page`` from nothing (every picture rendered; ``--workers`` processes) and again with
  every picture cached (the cost of ``vreg qa`` on an unchanged batch);
- opening the page in headless Chromium (``--dump-dom`` from ``file://``, no virtual time): the page's own
  ``performance.now()`` when the first page of rows is in the table (``data-rendered-ms``, navigation start to
  rendered, target <= 2,000 ms) and the wall time of the whole Chromium process (start-up included), median of
  ``--repeat`` runs, for the first page and for ``#status=failed&page=2``.

Prints a table and writes ``--json``. The out-dir is kept under ``--work`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Chromium helper the page's tests use

from browser_helpers import find_chromium  # noqa: E402

from vreg_cli.batch import SUMMARY_COLUMNS  # noqa: E402
from vreg_cli.io import read_image, read_landmarks, write_image  # noqa: E402
from vreg_cli.paths import SAMPLE_DIR  # noqa: E402
from vreg_cli.qa import write_qa_page  # noqa: E402
from vreg_cli.qa.config import QaConfig  # noqa: E402


def make_batch(out: Path, rows: int, seed: int) -> None:
    """OUT/summary.csv of ``rows`` synthetic pairs over the bundled pair, and the one warped image they share."""
    out.mkdir(parents=True, exist_ok=True)
    fixed, moving = read_image(SAMPLE_DIR / "fixed.png"), read_image(SAMPLE_DIR / "moving.png")
    pf, pm = read_landmarks(SAMPLE_DIR / "landmarks.csv")
    affine, _ = cv2.estimateAffine2D(pm.astype(np.float32), pf.astype(np.float32))
    warped = cv2.warpAffine(moving, affine, fixed.shape[1::-1])
    write_image(out / "shared_warped.png", warped)
    rng = np.random.default_rng(seed)
    status = rng.choice(["ok", "failed", "error"], size=rows, p=[0.80, 0.15, 0.05])
    with (out / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        for i, s in enumerate(status):
            row: dict[str, object] = {"name": f"pair_{i:05d}", "status": s, "fixed": str(SAMPLE_DIR / "fixed.png"),
                                      "moving": str(SAMPLE_DIR / "moving.png")}  # fmt: skip
            if s == "error":
                row["reason"] = f"pair_{i:05d}/moving.png: not a readable image (corrupt or unsupported format)"
            else:
                matches = int(rng.integers(8, 120))
                inliers = int(rng.integers(0, matches))
                row.update(matches=matches, inliers=inliers, seconds=round(rng.uniform(0.3, 2), 3))
            if s == "failed":
                row["reason"] = f"too few inliers ({row['inliers']} < 12)"
            if s == "ok":
                lm = rng.gamma(2.0, 1.5)
                row.update(inlier_ratio=round(inliers / matches, 4), rotation_deg=round(rng.uniform(-180, 180), 3),
                           scale=round(rng.uniform(0.9, 1.1), 4), lm_mean=round(lm, 3), lm_median=round(0.9 * lm, 3),
                           lm_max=round(2.5 * lm, 3), output=str(out / "shared_warped.png"))  # fmt: skip
            writer.writerow(row)


def open_page(url: str) -> tuple[float, float, int]:
    """(data-rendered-ms, Chromium wall seconds, rows in the table) of one headless --dump-dom run."""
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="vreg-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--dump-dom", url]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        wall = time.perf_counter() - start
    found = re.search(r'data-rendered-ms="([0-9.]+)"', proc.stdout)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"chromium did not render {url} ({proc.returncode}): {proc.stderr[-400:]}")
    return float(found.group(1)), wall, proc.stdout.count("<tr data-name=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="processes rendering the pictures")
    parser.add_argument("--repeat", type=int, default=5, help="Chromium runs per URL (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the synthetic out-dir (default: a temp)")
    parser.add_argument("--json", type=Path, default=Path("bench/qa_page.json"))
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vreg-qa-bench-"))
    out = work / "out"
    make_batch(out, args.rows, args.seed)
    config = QaConfig(workers=args.workers)
    start = time.perf_counter()
    page = write_qa_page(out, progress=True, config=config)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    write_qa_page(out, progress=False, config=config)
    warm = time.perf_counter() - start
    pictures = list((out / "qa").glob("*.jpg"))
    result: dict[str, object] = {
        "rows": args.rows,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "build_cold_s": round(cold, 2),
        "build_cached_s": round(warm, 3),
        "page_bytes": page.stat().st_size,
        "pictures": len(pictures),
        "pictures_bytes": sum(p.stat().st_size for p in pictures),
        "out_dir": str(out),
    }
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found: opening time not measured")
    else:
        result["chromium"] = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
        for label, hash_ in (("first_page", ""), ("failed_page_2", "#status=failed&page=2")):
            runs = [open_page(page.resolve().as_uri() + hash_) for _ in range(args.repeat)]
            result[f"open_{label}_rendered_ms"] = round(statistics.median(r[0] for r in runs), 1)
            result[f"open_{label}_chromium_wall_s"] = round(statistics.median(r[1] for r in runs), 2)
            result[f"open_{label}_rows_shown"] = runs[0][2]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()
