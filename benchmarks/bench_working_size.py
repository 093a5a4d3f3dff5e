"""Seconds per pair of `classic` at two working sizes, interleaved on the same cases (so load hits both alike).

Run: `just bench-working-size` (or `python3 benchmarks/bench_working_size.py --sizes 640,320 --bins 0,45,90,180`).
The cases are the benchmark's own (seed 0, the dev pairs by default); each case is registered once per size, sizes
alternating, and the script prints the median seconds per size and the median per-case ratio to the first size.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from vreg_cli.benchmark.command import make_source
from vreg_cli.benchmark.config import CaseConfig
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed
from vreg_cli.methods import build_method
from vreg_cli.registration import register_pair


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pairs-dir", type=Path, default=Path(os.environ.get("VREG_DEV_PAIRS", "../shared/data/mmim_retina_dev"))
    )
    ap.add_argument("--sizes", default="640,320")
    ap.add_argument("--bins", default="0,45,90,180")
    ap.add_argument("--method", default="classic")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    source = make_source(None, "test", (), args.pairs_dir, "landmarks-csv", True)
    specs = source.case_specs(CaseConfig(bins=tuple(int(b) for b in args.bins.split(","))))
    methods = {s: build_method(args.method, RegistrationContext(working_size=s)).method for s in sizes}
    seconds: dict[int, list[float]] = {s: [] for s in sizes}
    refused = dict.fromkeys(sizes, 0)
    for k, spec in enumerate(specs):
        data = source.load(spec)
        for s in sizes if k % 2 == 0 else sizes[::-1]:  # alternate the order so that neither size runs first always
            start = time.perf_counter()
            try:
                register_pair(data.fixed, data.moving, methods[s])
            except RegistrationFailed:
                refused[s] += 1
            seconds[s].append(time.perf_counter() - start)
    first = np.array(seconds[sizes[0]])
    for s in sizes:
        t = np.array(seconds[s])
        print(f"working size {s:4d}: median {np.median(t):.3f} s/pair over {len(t)} cases, {refused[s]} refused, "
              f"median ratio to {sizes[0]}: {np.median(t / first):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
