r"""Where ``classic`` refuses, is the truth among its ranked global hypotheses? (`just bench-ranked-starts`)

``classic``'s global search ranks rotation x scale x translation hypotheses by vessel correlation
(``RefusalDetails.global_matrices``). ``auto`` hands LoFTR these as rough starts, best first. This harness measures,
on the benchmark's own cases, how often a ranked hypothesis lies near the truth where ``classic`` refuses, and at which
rank: within ``--max-deg`` degrees and ``--max-scale`` times the truth's scale, with the start's mean landmark
error (working pixels, as LoFTR sees the pair) beside it.

The truth is the affine fitted to the case's landmarks (least squares, working pixels). Writes OUT/ranked_starts.csv
(one row per case refused by classic) and prints how many refusals have a near hypothesis at each rank; with
``--auto SPEC`` each row also says what that ``auto``'s LoFTR fallback did and how many matches agreed from each
start of its search (``search``: ranked hypotheses and rotation-grid angles).

    python3 benchmarks/bench_ranked_starts.py --pairs-dir out/tune --protocol smallfov --bins 45,90,135,180 \
        --out bench/ranked_starts
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from vreg_cli.benchmark.command import case_config, make_source
from vreg_cli.benchmark.config import PROTOCOLS
from vreg_cli.cli import parse_numbers
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.geometry import decompose_affine
from vreg_cli.io import resize_long_side, write_csv
from vreg_cli.methods import build_method
from vreg_cli.methods.classic import ClassicMethod

CSV_NAME = "ranked_starts.csv"


def nearness(start: np.ndarray, truth: np.ndarray, pts_moving: np.ndarray) -> tuple[float, float, float]:
    """(|rotation| deg, scale ratio >= 1, mean point distance px) between two moving -> fixed 3x3 matrices."""
    diff = decompose_affine(start @ np.linalg.inv(truth))
    ratio = diff.scale if diff.scale >= 1 else 1 / max(diff.scale, 1e-9)
    a = cv2.perspectiveTransform(pts_moving.reshape(-1, 1, 2), start).reshape(-1, 2)
    b = cv2.perspectiveTransform(pts_moving.reshape(-1, 1, 2), truth).reshape(-1, 2)
    return abs(diff.rotation_deg), ratio, float(np.linalg.norm(a - b, axis=1).mean())


def run_case(
    classic: ClassicMethod, source: Any, spec: Any, size: int, max_deg: float, max_scale: float, auto: Any = None
) -> dict | None:
    """The row of one case classic refuses (None when it registers it); with AUTO (an ``auto`` method) also what its
    LoFTR fallback did: its outcome and the agreeing matches of every start of its search."""
    data = source.load(spec)
    (fixed_w, s_f), (moving_w, s_m) = resize_long_side(data.fixed, size), resize_long_side(data.moving, size)
    try:
        classic.match(fixed_w, moving_w)
        return None
    except RegistrationFailed as exc:
        details = exc.details
    pf = cv2.perspectiveTransform(np.asarray(data.pts_fixed, np.float64).reshape(-1, 1, 2), s_f).reshape(-1, 2)
    pm = cv2.perspectiveTransform(np.asarray(data.pts_moving, np.float64).reshape(-1, 1, 2), s_m).reshape(-1, 2)
    affine, _ = cv2.estimateAffine2D(pm, pf, method=cv2.LMEDS)
    truth = np.vstack([affine, [0, 0, 1]])
    row: dict[str, Any] = {"case_id": spec.case_id, "pair": spec.pair, "bin": spec.bin, "first_near": 0}
    for rank, start in enumerate(details.global_matrices or [], 1):
        deg, ratio, err = nearness(start, truth, pm)
        row[f"h{rank}"] = f"{deg:.0f}deg x{ratio:.2f} {err:.0f}px"
        if not row["first_near"] and deg <= max_deg and ratio <= max_scale:
            row["first_near"] = rank
    if auto is not None:
        try:
            found = auto.match(fixed_w, moving_w)
            row.update(loftr="registered", strategy=found.info.strategy, search=found.info.search)
        except RegistrationFailed as exc:
            row.update(loftr="refused", strategy=exc.details.strategy, search=exc.details.search)
    return row


def main(argv: list[str] | None = None) -> None:
    """Run every case, write the CSV, print the counts per rank; a user error is one line."""
    from vreg_cli.ui import progress

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs-dir", type=Path, required=True, help="folder of annotated pairs")
    ap.add_argument("--pairs-layout", default="landmarks-csv", help="pair layout (as vreg benchmark)")
    ap.add_argument("--protocol", choices=PROTOCOLS, default="smallfov")
    ap.add_argument("--bins", default="0,15,30,45,60,90,135,180", help="rotation bins in degrees")
    ap.add_argument("--seed", type=int, default=0, help="seed of the cases (as vreg benchmark)")
    for name in ("zoom", "gamma", "blur", "noise"):
        ap.add_argument(f"--{name}", help=f"smallfov: 'low,high' (or one value): the window's {name} range")
    ap.add_argument("--working-size", type=int, default=640)
    ap.add_argument("--max-deg", type=float, default=20.0, help="a near hypothesis: rotation within this (deg)")
    ap.add_argument("--max-scale", type=float, default=1.25, help="and scale within this factor of the truth")
    ap.add_argument("--auto", default=None, help="also run this auto spec (e.g. auto:starts=4) on each refusal")
    ap.add_argument("--out", type=Path, required=True, help=f"output folder ({CSV_NAME})")
    args = ap.parse_args(argv)
    try:
        bins = tuple(int(b) for b in args.bins.replace(" ", "").split(",") if b)
        given = {k: getattr(args, k) for k in ("zoom", "gamma", "blur", "noise") if getattr(args, k) is not None}
        window = {k: parse_numbers(v, f"--{k}", (1, 2)) for k, v in given.items()}
        cases = case_config(bins, (0.9, 1.1), 0.08, args.seed, args.protocol, window)
        source = make_source(None, "test", (), args.pairs_dir, args.pairs_layout, False)
    except ValueError:
        sys.exit(f"error: --bins {args.bins!r}: expected comma-separated whole degrees")
    except VregError as exc:
        sys.exit(f"error: {exc}")
    context = RegistrationContext.from_options(working_size=args.working_size)
    classic = ClassicMethod(context=context)
    auto = build_method(args.auto, context).method if args.auto else None
    specs = list(source.case_specs(cases))
    rows = []
    with progress() as bar:
        task = bar.add_task("classic's ranked hypotheses", total=len(specs))
        for spec in specs:
            row = run_case(classic, source, spec, args.working_size, args.max_deg, args.max_scale, auto)
            if row is not None:
                rows.append(row)
            bar.advance(task)
    frame = pd.DataFrame(rows)
    out_csv = write_csv(args.out / CSV_NAME, frame)
    print(f"{len(specs)} cases, classic refused {len(frame)}")
    if len(frame):
        counts = frame["first_near"].value_counts().sort_index()
        for rank, n in counts.items():
            label = "no near hypothesis" if rank == 0 else f"first near hypothesis at rank {rank}"
            print(f"  {label}: {n}")
        near = int((frame["first_near"] > 0).sum())
        first = int((frame["first_near"] == 1).sum())
        print(f"  near at any rank: {near} of {len(frame)}; at rank 1: {first}")
    print(f"wrote {out_csv}")


if __name__ == "__main__":
    main()
