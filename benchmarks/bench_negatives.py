r"""Negative cases: image pairs that must NOT register. Counts how many a method accepts (the target is 0).

Cases, built deterministically from a folder of pairs (``landmarks-csv`` layout, default: the dev pairs) and extra
images of another modality (default: the bundled OCT en-face sample):

- ``other-eye``: the fixed image of pair i against the moving image of another eye (pair i + k);
- ``other-eye-window``: the same, with the moving image turned into a ``smallfov`` protocol window (zoomed in,
  rotated by each of ``--window-bins`` degrees, default 45, degraded), the regime where chance correlations are
  easiest; ``--zoom/--gamma/--blur/--noise`` change the window's ranges as in ``vreg benchmark``;
- ``other-modality``: each fixed image against an image of another modality of another eye (an OCT en-face scan);
- ``noise``: uniform and smoothed Gaussian noise; ``blank``: black and mid-grey images.

Two pairs are the same eye when their fixed images are identical, so a tuning folder with several moving modalities
per eye gives no false negatives. Writes OUT/negatives.csv (one row per case: accepted?, inliers, inlier share,
global vessel correlation, verified share, scale, seconds) and prints the summary; exit code 1 if any case was
accepted.

    python3 benchmarks/bench_negatives.py --out bench/negatives
    python3 benchmarks/bench_negatives.py --pairs-dir out/tune --other ../shared/data/samples/cf_oct_moving.png --out x
    python3 benchmarks/bench_negatives.py --pairs-dir out/tune --eye-regex '^(\d+)_' --window-bins 0,45,90,135,180 \
        --zoom 1.6,2.6 --blur 1,3 --noise 8,20 --gamma 0.5,2 --out bench/neg_windows   # small-window stress
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.benchmark.cases import draw_case, present_moving
from vreg_cli.benchmark.command import window_ranges
from vreg_cli.benchmark.config import CaseConfig
from vreg_cli.cli import parse_numbers
from vreg_cli.errors import VregError
from vreg_cli.io import read_image
from vreg_cli.methods import build_method
from vreg_cli.provenance import MatchInfo
from vreg_cli.registration import register_images

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _digest(img: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest()


def build_cases(
    pairs_dir: Path,
    others: list[Path],
    limit: int,
    eye_regex: str = "",
    window: CaseConfig | None = None,
    window_bins: tuple[int, ...] = (45,),
) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(kind, name, fixed, moving) negative cases, in a fixed order. eye_regex: its first group of a pair's folder
    name names the eye (default: pairs with identical fixed images are one eye). window: the smallfov settings of
    the other-eye windows (default: the protocol's), one window per angle of ``window_bins``."""
    dirs = sorted(p.parent for p in pairs_dir.glob("*/fixed.png"))[:limit]
    if not dirs:
        sys.exit(f"no <pair>/fixed.png under {pairs_dir}")
    fixed = [read_image(d / "fixed.png") for d in dirs]
    moving = [read_image(d / "moving.png") for d in dirs]
    eye = [re.match(eye_regex, d.name).group(1) if eye_regex else _digest(f) for d, f in zip(dirs, fixed, strict=True)]
    n = len(dirs)
    cases = []
    window = window or CaseConfig(protocol="smallfov", seed=0)
    for i in range(n):
        # the next pair of another eye
        j = next(((i + k) % n for k in range(1, n) if eye[(i + k) % n] != eye[i]), None)
        if j is None:
            continue
        cases.append(("other-eye", f"{dirs[i].name} vs {dirs[j].name}", fixed[i], moving[j]))
        for angle in window_bins:
            spec = draw_case(window, dirs[j].name, "negative", j, angle, moving[j].shape[:2])
            label = f"{dirs[i].name} vs window of {dirs[j].name}" + (f" at {angle}" if window_bins != (45,) else "")
            cases.append(("other-eye-window", label, fixed[i], present_moving(moving[j], spec)))
    for path in others:
        img = read_image(path)
        for i in range(n):
            if _digest(img) not in (_digest(moving[i]),):
                cases.append(("other-modality", f"{dirs[i].name} vs {path.name}", fixed[i], img))
    rng = np.random.default_rng(0)
    h, w = moving[0].shape[:2]
    uniform = rng.integers(0, 256, (h, w), dtype=np.uint8)
    smooth = cv2.GaussianBlur(rng.normal(128, 40, (h, w)).astype(np.float32), (0, 0), 2.0)
    smooth = np.clip((smooth - smooth.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    lines = np.zeros((h, w), np.uint8)  # random bright curves: vessel-like structure of no eye
    for _ in range(40):
        pts = np.cumsum(rng.normal(0, 12, (30, 2)), axis=0) + rng.uniform(0, [w, h])
        cv2.polylines(lines, [pts.astype(np.int32)], False, int(rng.integers(120, 255)), int(rng.integers(1, 6)))
    lines = cv2.GaussianBlur(lines, (0, 0), 1.0)
    for name, img in (("uniform", uniform), ("smoothed", smooth), ("random curves", lines)):
        for i in range(min(2, n)):
            cases.append(("noise", f"{dirs[i].name} vs {name} noise", fixed[i], img))
    for name, value in (("black", 0), ("grey", 128)):
        cases.append(("blank", f"{dirs[0].name} vs {name}", fixed[0], np.full((h, w), value, np.uint8)))
    return cases


def _stats(info: MatchInfo) -> dict[str, object]:
    """The acceptance figures of a result (accepted or refused) for negatives.csv ("" where not measured)."""
    figures = {"inliers": info.inliers, "ratio": info.inlier_ratio, "verified": info.verified_ratio}
    figures["score"] = info.global_score
    return {k: "" if v is None else v for k, v in figures.items()}


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs-dir", type=Path, default=DEV / "mmim_retina_dev")
    ap.add_argument("--other", type=Path, action="append", help="image(s) of another modality and eye")
    ap.add_argument("--method", default="classic")
    ap.add_argument("--limit", type=int, default=1000, help="use at most this many pairs")
    ap.add_argument("--eye-regex", default="", help="regex whose first group of a pair folder's name is the eye id")
    ap.add_argument("--seed", type=int, default=0, help="seed of the other-eye windows")
    ap.add_argument("--window-bins", type=_ints, default=(45,), help="angles of the other-eye windows (deg)")
    for name in ("zoom", "gamma", "blur", "noise"):
        ap.add_argument(f"--{name}", help=f"low,high (or one value): the windows' {name} range")
    ap.add_argument("--out", type=Path, default=Path("bench/negatives"))
    args = ap.parse_args()
    others = args.other if args.other is not None else [DEV / "samples" / "cf_oct_moving.png"]
    try:  # the same parsing and checks as `vreg benchmark --zoom/--gamma/--blur/--noise`
        given = {k: getattr(args, k) for k in ("zoom", "gamma", "blur", "noise") if getattr(args, k) is not None}
        ranges = window_ranges("smallfov", {k: parse_numbers(v, f"--{k}", (1, 2)) for k, v in given.items()})
    except VregError as exc:
        sys.exit(f"error: {exc}")
    window = CaseConfig(protocol="smallfov", seed=args.seed, **ranges)
    cases = build_cases(args.pairs_dir, others, args.limit, args.eye_regex, window, args.window_bins)
    method = build_method(args.method).method
    rows = []
    for kind, name, fixed, moving in cases:
        start = time.perf_counter()
        reg = register_images(fixed, moving, method)  # a refusal is a result; info: the method's figures
        row = dict(accepted=reg.ok, reason=reg.reason, **_stats(reg.info), scale=round(reg.scale, 3) if reg.ok else "")
        row.update(kind=kind, case=name, seconds=round(time.perf_counter() - start, 3))
        rows.append(row)
        flag = "ACCEPTED" if row["accepted"] else "refused"
        print(f"{kind:17s} {name:45s} {flag:8s} {row['reason'][:90]}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "negatives.csv", "w", newline="") as fh:
        keys = ["kind", "case", "accepted", "inliers", "ratio", "verified", "score", "scale", "seconds", "reason"]
        wr = csv.DictWriter(fh, fieldnames=keys)
        wr.writeheader()
        wr.writerows(rows)
    accepted = sum(r["accepted"] for r in rows)
    kinds = sorted({r["kind"] for r in rows})
    per_kind = ", ".join(f"{k} {sum(r['accepted'] for r in rows if r['kind'] == k)}/{sum(r['kind'] == k for r in rows)}"
                         for k in kinds)  # fmt: skip
    print(
        f"{args.method}: {accepted} accepted of {len(rows)} negative cases ({per_kind}); {args.out / 'negatives.csv'}"
    )
    sys.exit(1 if accepted else 0)


if __name__ == "__main__":
    main()
