"""Seconds per pair of ``classic`` in process, one thread, and where they go (`just bench-classic-speed`).

The cases are the benchmark's own (seed 0): the dev pairs at every rotation bin of ``vreg benchmark``'s default,
standard protocol (or ``--protocol smallfov``). Each case is registered in one process with
``cv2.setNumThreads(1)``; only the registration is timed (reading and drawing the case is not).

- ``--before DIR`` times an earlier version too (an export of it: ``git archive <commit> | tar -x -C DIR``): each
  round runs every case in a fresh process of each version, the two versions alternating which goes first, so that
  both see the same machine load. The per-case time is the median over ``--rounds``; the script prints the median
  seconds per pair of each version and the median per-case ratio.
- ``--split`` profiles one pass of this checkout (cProfile) and prints the share of the global search, the vessel
  maps, the patch refinement (refinement passes and verification) and the rest.

Results: a table and ``--out`` JSON; docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# cProfile function names (file suffix, function) whose cumulative time makes each part of the split (where one
# name has two functions, one calling the other, the outer one counts)
PARTS = {
    "global search": ("classic/global_search.py", "global_search"),
    "vessel maps": ("vessels.py", "vessel_map"),
    "refinement": ("classic/refine.py", "refine"),  # patch searches, affine fits and the verification pass
}


def worker(pairs_dir: Path, protocol: str, bins: tuple[int, ...] | None, split: bool) -> dict:
    """Register every case once with classic (this process's vreg_cli); seconds per case, or the split."""
    import cProfile
    import pstats
    import time

    import cv2

    from vreg_cli.benchmark.command import make_source
    from vreg_cli.benchmark.config import CaseConfig
    from vreg_cli.context import RegistrationContext
    from vreg_cli.errors import RegistrationFailed
    from vreg_cli.methods import build_method
    from vreg_cli.registration import register_pair

    cv2.setNumThreads(1)
    source = make_source(None, "test", (), pairs_dir, "landmarks-csv", True)
    specs = source.case_specs(CaseConfig(protocol=protocol, **({"bins": bins} if bins else {})))
    method = build_method("classic", RegistrationContext()).method
    profile = cProfile.Profile() if split else None
    seconds, refused = {}, 0
    for spec in specs:
        data = source.load(spec)
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        try:
            register_pair(data.fixed, data.moving, method)
        except RegistrationFailed:
            refused += 1
        if profile is not None:
            profile.disable()
        seconds[spec.case_id] = time.perf_counter() - start
    out: dict = {"seconds": seconds, "refused": refused}
    if profile is not None:
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        total = sum(seconds.values())
        out["split"] = {
            part: max(v[3] for (file, _, fn), v in stats.items() if file.endswith(suffix) and fn == name) / total
            for part, (suffix, name) in PARTS.items()
        }
        out["split"]["rest"] = 1.0 - sum(out["split"].values())
    return out


def run_worker(root: Path, args: argparse.Namespace, split: bool = False) -> dict:
    """``worker`` in a fresh process with ROOT's vreg_cli first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--pairs-dir", str(args.pairs_dir.resolve())]
    cmd += ["--protocol", args.protocol] + (["--bins", ",".join(map(str, args.bins))] if args.bins else [])
    cmd += ["--split"] if split else []
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"worker for {root} failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_case_median(runs: list[dict]) -> dict[str, float]:
    """Each case's median seconds over the rounds."""
    return {case: statistics.median(r["seconds"][case] for r in runs) for case in runs[0]["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pairs-dir", type=Path, default=Path(os.environ.get("VREG_DEV_PAIRS", "../shared/data/mmim_retina_dev"))
    )
    ap.add_argument("--protocol", default="standard", choices=("standard", "smallfov"))
    ap.add_argument(
        "--bins", type=lambda s: tuple(int(b) for b in s.split(",")), help="rotation bins (default: the benchmark's)"
    )
    ap.add_argument("--before", type=Path, help="an export of an earlier version, timed interleaved with this one")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the cases per version (default 3)")
    ap.add_argument("--split", action="store_true", help="also profile one pass of this checkout")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.pairs_dir, args.protocol, args.bins, args.split)))
        return
    if not args.pairs_dir.is_dir():
        raise SystemExit(f"--pairs-dir {args.pairs_dir}: no such folder")
    versions = {"this checkout": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    runs: dict[str, list[dict]] = {name: [] for name in versions}
    for r in range(args.rounds):
        order = list(versions.items()) if r % 2 == 0 else list(versions.items())[::-1]
        for name, root in order:
            runs[name].append(run_worker(root, args))
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)
    result: dict = {"protocol": args.protocol, "cases": len(runs["this checkout"][0]["seconds"]), "versions": {}}
    medians = {name: per_case_median(rs) for name, rs in runs.items()}
    for name, med in medians.items():
        result["versions"][name] = {
            "median_s": statistics.median(med.values()),
            "mean_s": statistics.fmean(med.values()),
            "refused": runs[name][0]["refused"],
        }
        v = result["versions"][name]
        print(f"{name:14s} median {v['median_s']:.3f} s/pair, mean {v['mean_s']:.3f}, {v['refused']} refused")
    if args.before:
        ratios = [medians["this checkout"][c] / medians["before"][c] for c in medians["before"]]
        total = sum(medians["this checkout"].values()) / sum(medians["before"].values())
        result["median_ratio"], result["total_ratio"] = statistics.median(ratios), total
        print(f"this checkout / before: median per-case ratio {statistics.median(ratios):.2f}, total time {total:.2f}")
    if args.split:
        for name, root in versions.items():
            split = run_worker(root, args, split=True)["split"]
            result["versions"][name]["split"] = split
            print(f"{name}: " + ", ".join(f"{part} {share:.0%}" for part, share in split.items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
