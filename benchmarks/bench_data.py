"""Data throughput: synth, pack (`vreg prepare`) and random-access reads of the HDF5 file, in samples/s.

Usage: python benchmarks/bench_data.py [--n 200] [--size 512] [--reads 400] [--compression gzip1 gzip4 lzf none]
Writes into a temporary folder (or --workdir) and prints a markdown table. Reads run right after packing,
so the file is in the OS page cache: they measure HDF5 chunk lookup + decompression, not the disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vreg_cli.data import h5 as schema
from vreg_cli.data.h5 import VregH5
from vreg_cli.data.pack import pack
from vreg_cli.data.synth import write_synth_dataset

SETTINGS = {
    "gzip1": {"compression": "gzip", "compression_opts": 1},
    "gzip4": {"compression": "gzip", "compression_opts": 4},
    "lzf": {"compression": "lzf"},
    "none": {},
}


def read_all(path: Path, reads: int, seed: int) -> tuple[float, float, float]:
    """Random-order reads: (samples/s reading every modality and both masks, CPU ms per such sample,
    samples/s reading only cf + fa + vessel)."""
    data = VregH5(path)
    rng = np.random.default_rng(seed)
    order = rng.integers(0, len(data), size=reads)
    c0, t0 = time.process_time(), time.perf_counter()
    for i in order:
        for m in data.modalities:
            data.image(int(i), m)
        data.mask(int(i), "vessel")
        data.mask(int(i), "fov")
    full = reads / (time.perf_counter() - t0)
    cpu_ms = 1000 * (time.process_time() - c0) / reads
    t0 = time.perf_counter()
    for i in rng.permutation(order):
        data.image(int(i), "cf")
        data.image(int(i), "fa")
        data.mask(int(i), "vessel")
    pair = reads / (time.perf_counter() - t0)
    data.close()
    return full, cpu_ms, pair


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--reads", type=int, default=400)
    ap.add_argument("--layout", default="fives-generated")
    ap.add_argument("--compression", nargs="+", default=["gzip1"], choices=sorted(SETTINGS))
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vreg-bench-data-"))
    src = work / "src"
    try:
        t0 = time.perf_counter()
        write_synth_dataset(src, args.n, layout=args.layout, size=args.size, seed=0, progress=True)
        synth_rate = args.n / (time.perf_counter() - t0)
        rows = []
        for name in args.compression:
            schema.COMPRESSION = SETTINGS[name]  # the writer reads it at dataset creation
            out = work / f"data_{name}.h5"
            c0, t0 = time.process_time(), time.perf_counter()
            pack(src, out, layout=args.layout, force=True, progress=True)
            pack_rate = args.n / (time.perf_counter() - t0)
            pack_cpu = 1000 * (time.process_time() - c0) / args.n
            full, read_cpu, pair = read_all(out, args.reads, seed=0)
            rows.append((name, pack_rate, pack_cpu, full, read_cpu, pair, out.stat().st_size / 2**20))
        load = os.getloadavg()[0]
        print(f"\n{args.n} synthetic samples at {args.size} px ({args.layout}), {os.cpu_count()} CPUs, load {load:.1f}")
        print(f"synth: {synth_rate:.1f} samples/s\n")
        print("| compression | pack samples/s | pack CPU ms/sample | random read samples/s (all) "
              "| read CPU ms/sample | read cf+fa+vessel samples/s | file MB |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for name, pack_rate, pack_cpu, full, read_cpu, pair, mb in rows:
            cells = [name, f"{pack_rate:.1f}", f"{pack_cpu:.0f}", f"{full:.1f}", f"{read_cpu:.1f}", f"{pair:.1f}"]
            print("| " + " | ".join([*cells, f"{mb:.1f}"]) + " |")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
