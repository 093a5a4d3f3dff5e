"""Cohort engine benchmark: a local Dask cluster against the process pool, and a worker killed mid-run.

Run: `just bench-cohort` (or `python3 benchmarks/bench_cohort.py --pairs-dir ../shared/data/mmim_retina_dev --limit 8`).

The pairs are the benchmark's own cases (``vreg benchmark``'s standard protocol, seed 0: every dev pair's moving
image turned into each rotation bin, 8 pairs x 8 bins = 64 cases), written to OUT/cases with a pairs CSV; their
carried landmarks give the summary's lm_* columns.

(a) throughput: ``register_many(workers=W)`` (the process pool) and ``register_many(client=...)`` on a
    ``LocalCluster(n_workers=W, threads_per_worker=1, processes=True)``, pairs per second each (wall time; the pool's
    includes starting its processes, the cluster's start is timed apart), and whether both give the same rows
    (every column but seconds and the output folder).
(b) kill test: a fresh cluster of W workers runs the batch (one pair per task); once some rows are in summary.csv, one
    worker process that is running a task gets SIGKILL. Dask starts a new one and runs the lost tasks again. Then every
    pair must be in summary.csv exactly once, every ok pair's warped image and transform readable, and no temporary
    file left behind.

Prints a table and writes OUT/results.json. Use --skip-throughput / --skip-kill to run one part.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

VARYING = ["seconds", "output", "transform"]


def build_cases(pairs_dir: Path, out: Path, limit: int | None) -> list[Any]:
    """The benchmark cases as PairRecords (moving images written to OUT/cases, landmarks carried) + OUT/pairs.csv."""
    from vreg_cli.benchmark.command import make_source
    from vreg_cli.benchmark.config import CaseConfig
    from vreg_cli.data.pairs import PairRecord
    from vreg_cli.io import write_image

    source = make_source(None, "test", (), pairs_dir, "landmarks-csv", True)
    specs = source.case_specs(CaseConfig())[:limit]
    folder = out / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for spec in specs:
        data = source.load(spec)
        name = f"{spec.pair}_{spec.bin:03d}"
        moving = folder / f"{name}.png"
        if not moving.is_file():
            write_image(moving, data.moving)
        fixed = source.records[spec.index].fixed
        records.append(PairRecord(name, fixed, moving, data.pts_fixed, data.pts_moving))
    pd.DataFrame([(r.fixed, r.moving, r.name) for r in records], columns=["fixed", "moving", "name"]).to_csv(
        out / "pairs.csv", index=False
    )
    return records


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows without what differs between two runs: time and the output folder (file names kept)."""
    names = {c: frame[c].map(lambda p: Path(p).name if isinstance(p, str) else p) for c in ("output", "transform")}
    return frame.drop(columns=VARYING).assign(**names).reset_index(drop=True)


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(comparable(a), comparable(b), check_dtype=False)
    except AssertionError:
        return False
    return True


def local_cluster(workers: int) -> Any:
    """W worker processes with one thread each; OpenCV / OpenMP get the pool's share of the cores per process."""
    from distributed import LocalCluster

    share = str(max(1, (os.cpu_count() or 1) // workers))
    env = {"OMP_NUM_THREADS": share, "OPENCV_FOR_THREADS_NUM": share, "MKL_NUM_THREADS": share}
    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=env, silence_logs=40
    )


def throughput(records: list[Any], args: argparse.Namespace) -> tuple[dict[str, Any], pd.DataFrame]:
    """(a): the figures, and the pool's summary (the reference rows of the kill test)."""
    from distributed import Client

    import vreg_cli

    n = len(records)
    start = time.perf_counter()
    pool = vreg_cli.register_many(
        records, args.method, out_dir=args.out / "pool", workers=args.workers, chunk_size=args.chunk_size
    )
    pool_s = time.perf_counter() - start
    start = time.perf_counter()
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        client.wait_for_workers(args.workers)
        startup_s = time.perf_counter() - start
        start = time.perf_counter()
        dask = vreg_cli.register_many(
            records, args.method, out_dir=args.out / "dask", client=client, chunk_size=args.chunk_size
        )
        dask_s = time.perf_counter() - start
    figures = {
        "pairs": n,
        "workers": args.workers,
        "pool_seconds": round(pool_s, 2),
        "pool_pairs_per_s": round(n / pool_s, 3),
        "dask_cluster_start_seconds": round(startup_s, 2),
        "dask_seconds": round(dask_s, 2),
        "dask_pairs_per_s": round(n / dask_s, 3),
        "same_rows": same_rows(pool, dask),
        "status": pool["status"].value_counts().to_dict(),
    }
    return figures, pool


def _kill_one_busy_worker(client: Any, summary: Path, n: int, deadline: float) -> dict[str, Any]:
    """Wait until 0 < rows < n are in summary.csv and a worker runs a task, then SIGKILL that worker's process."""
    from vreg_cli.batch import read_summary

    while time.monotonic() < deadline:
        rows = len(read_summary(summary)) if summary.is_file() else 0
        busy = {addr: keys for addr, keys in client.processing().items() if keys}
        if 0 < rows < n and busy:
            addr, keys = next(iter(busy.items()))
            pid = client.run(os.getpid, workers=[addr])[addr]
            os.kill(pid, signal.SIGKILL)
            assigned = sorted(map(str, keys))  # running or queued on it
            return {"killed_pid": pid, "rows_before_kill": rows, "tasks_assigned_to_killed_worker": assigned}
        time.sleep(0.05)
    raise SystemExit("kill test: the batch finished (or never started) before a worker could be killed")


def kill_test(records: list[Any], args: argparse.Namespace, reference: pd.DataFrame | None) -> dict[str, Any]:
    from distributed import Client

    import vreg_cli
    from vreg_cli.batch import read_summary

    out_dir = args.out / "kill"
    summary = out_dir / "summary.csv"
    if summary.exists():
        summary.unlink()
    result: dict[str, Any] = {}
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        client.wait_for_workers(args.workers)

        def run() -> None:
            result["frame"] = vreg_cli.register_many(records, args.method, out_dir=out_dir, client=client, chunk_size=1)

        worker = threading.Thread(target=run)
        start = time.perf_counter()
        worker.start()
        killed = _kill_one_busy_worker(client, summary, len(records), time.monotonic() + 600)
        worker.join()
        seconds = time.perf_counter() - start
        workers_after = len(client.nthreads())
    rows = read_summary(summary)
    counts = Counter(r["name"] for r in rows)
    names = {r.name for r in records}
    missing_outputs = [
        r["name"]
        for r in rows
        if r["status"] == "ok" and not (Path(r["output"]).is_file() and json.loads(Path(r["transform"]).read_text()))
    ]
    leftovers = sorted(p.name for p in out_dir.iterdir() if ".vreg-" in p.name)
    return {
        "pairs": len(records),
        **killed,
        "seconds": round(seconds, 2),
        "workers_after": workers_after,
        "rows": len(rows),
        "status": dict(Counter(r["status"] for r in rows)),
        "every_pair_once": set(counts) == names and set(counts.values()) == {1},
        "ok_without_outputs": missing_outputs,
        "temporaries_left": leftovers,
        "same_rows_as_pool": None if reference is None else same_rows(reference, result["frame"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--pairs-dir", type=Path, default=Path(os.environ.get("VREG_DEV_PAIRS", "../shared/data/mmim_retina_dev"))
    )
    ap.add_argument("--out", type=Path, default=Path("bench/cohort"))
    ap.add_argument("--limit", type=int, default=None, help="the first N cases only (default: all 64)")
    ap.add_argument("--method", default="classic")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=None, help="pairs per task in (a) (default: register_many's)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-kill", action="store_true")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    args.out.mkdir(parents=True, exist_ok=True)
    records = build_cases(args.pairs_dir, args.out, args.limit)
    results: dict[str, Any] = {"pairs_dir": str(args.pairs_dir), "method": args.method, "cpu_count": os.cpu_count()}
    reference = None
    if not args.skip_throughput:
        results["throughput"], reference = throughput(records, args)
    if not args.skip_kill:
        results["kill"] = kill_test(records, args, reference)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = Table("part", "measure", "value", title=f"cohort engine, {len(records)} pairs, {args.method}")
    for part in ("throughput", "kill"):
        for key, value in results.get(part, {}).items():
            table.add_row(part, key, str(value))
    Console().print(table)
    print(f"-> {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
