"""Seconds per pair of `vreg register` methods on the bundled pair, LoFTR's profile, and the rotation-handling choice.

Run: `just bench-register` (or `python benchmarks/bench_register.py --sizes 640,512,480 --repeats 2`).
LoFTR uses random-init weights in the MINIMA architecture (no weights ship with the repo): the network costs the same,
and with ``--thr 0`` the coarse threshold lets about as many matches through to the fine level as trained weights do.
Figures from a shared machine are pessimistic. Results also go to bench/register.csv.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import affine_matrix, decompose_affine, warp_image
from vreg_cli.io import read_image, resize_long_side, to_gray, write_csv
from vreg_cli.methods.classic import ClassicMethod
from vreg_cli.methods.loftr import LoFTRMethod, LoFTROptions
from vreg_cli.methods.loftr.matcher import LoFTRMatcher
from vreg_cli.methods.loftr.prealign import ClassicPrealigner
from vreg_cli.methods.sift import SiftMethod
from vreg_cli.model.config import MODULE_NAMES
from vreg_cli.model.loftr import LoFTRConfig, LoFTRModel, checkpoint_payload
from vreg_cli.paths import SAMPLE_DIR
from vreg_cli.registration import register_pair


def seconds(fn: Any, repeats: int) -> tuple[float, float, float]:
    """(min wall, median wall, median process CPU) seconds of ``fn()`` over ``repeats`` runs after one warm-up.

    On a shared machine the minimum wall time is the best estimate of the uncontended cost; the CPU time (all
    threads) does not count the time other processes held the cores. Failures (random weights) are timed too.
    """
    walls, cpus = [], []
    for i in range(repeats + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            fn()
        except RegistrationFailed:
            pass
        if i:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return min(walls), statistics.median(walls), statistics.median(cpus)


class NoReuse:
    """The same matcher without match_many: every search candidate recomputes the fixed image's backbone."""

    def __init__(self, matcher: LoFTRMatcher) -> None:
        self.matcher = matcher

    def __call__(self, fixed: np.ndarray, moving: np.ndarray) -> Any:
        return self.matcher(fixed, moving)


def profile(model: LoFTRModel, matcher: LoFTRMatcher, fixed: np.ndarray, moving: np.ndarray) -> dict[str, float]:
    """Seconds spent in each LoFTR submodule for one match (forward hooks)."""
    spent: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    handles = []
    for name in MODULE_NAMES:
        module = getattr(model, name)
        handles.append(
            module.register_forward_pre_hook(lambda m, a, n=name: started.__setitem__(n, time.perf_counter()))
        )
        handles.append(
            module.register_forward_hook(
                lambda m, a, o, n=name: spent.__setitem__(n, spent[n] + time.perf_counter() - started[n])
            )
        )  # noqa: E501
    start = time.perf_counter()
    found = matcher(fixed, moving)
    spent["total"] = time.perf_counter() - start
    spent["matches"] = len(found)
    for h in handles:
        h.remove()
    return dict(spent)


def prealign_accuracy(fixed: np.ndarray, moving: np.ndarray, size: int) -> pd.DataFrame:
    """How close the classic pre-alignment lands to the truth on the sample turned by 0..330 deg and scaled."""
    fixed_w, _ = resize_long_side(fixed, size)
    moving_w, _ = resize_long_side(moving, size)
    prealign = ClassicPrealigner()
    rows = []
    reference = prealign(fixed_w, moving_w).matrix  # the upright pair's own estimate stands in for the truth
    h, w = moving_w.shape[:2]
    for scale in (1.0, 0.6, 1.6):
        for angle in range(0, 360, 30):
            turn = affine_matrix(angle, scale, center=((w - 1) / 2, (h - 1) / 2))
            turned = warp_image(moving_w, turn, moving_w.shape[:2])
            start = time.perf_counter()
            try:
                estimate = prealign(fixed_w, turned).matrix
                residual = decompose_affine(estimate @ turn @ np.linalg.inv(reference))
                err = (abs(residual.rotation_deg), abs(np.log(residual.scale)))
            except RegistrationFailed:
                err = (float("inf"), float("inf"))
            ok = err[0] < 20 and err[1] < np.log(1.25)
            rows.append({"angle": angle, "scale": scale, "residual_deg": err[0], "in_loftr_basin": ok,
                         "seconds": time.perf_counter() - start})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="640,512,480", help="LoFTR's own long sizes (working size stays 640)")
    parser.add_argument("--search-size", type=int, default=480, help="LoFTR size at which the search is timed")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--thr", type=float, default=0.0, help="coarse threshold of the random-init LoFTR")
    parser.add_argument("--out", type=Path, default=Path("bench/register.csv"))
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--batch", type=int, default=1, help="search candidates per LoFTR call")
    parser.add_argument("--device", default="cpu", help="torch device of the LoFTR model: cpu | cuda")
    parser.add_argument("--skip-others", action="store_true", help="time LoFTR only (not classic and sift)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    fixed, moving = read_image(SAMPLE_DIR / "fixed.png"), read_image(SAMPLE_DIR / "moving.png")
    torch.manual_seed(0)
    model = LoFTRModel(LoFTRConfig(thr=args.thr)).eval()
    with tempfile.TemporaryDirectory() as tmp:  # through the real loading path, as `--checkpoint` would
        ckpt = Path(tmp) / "random.ckpt"
        torch.save(checkpoint_payload(model), ckpt)
        from vreg_cli.model.loftr import load_model

        model = load_model(ckpt, device=args.device).use_channels_last()  # as LoFTRMatcher.from_file
    print(f"device {args.device}, torch threads: {torch.get_num_threads()}; fixed {fixed.shape}, moving {moving.shape}")

    rows = []
    context = RegistrationContext()  # working size 640 for every method; LoFTR runs inside it at its own size
    fw, _ = resize_long_side(fixed, context.working_size)
    mw, _ = resize_long_side(moving, context.working_size)
    prealigner = ClassicPrealigner()
    pre = prealigner(fw, mw).matrix

    def timed(size: int, name: str, fn: Any) -> None:
        best, median, cpu = seconds(fn, args.repeats)
        rows.append({"loftr_size": size, "method": name, "seconds": round(best, 3), "median_s": round(median, 3),
                     "cpu_s": round(cpu, 3), "device": args.device})  # fmt: skip
        print(f"{size:4d}  {name:52s} min {best:6.2f} s  median {median:6.2f} s  cpu {cpu:6.2f} s", flush=True)

    others = {} if args.skip_others else {"classic": ClassicMethod(), "sift": SiftMethod()}
    for name, method in others.items():
        timed(640, name, lambda m=method: register_pair(fixed, moving, m))
    timed(640, "  part: classic pre-alignment", lambda: prealigner(fw, mw))
    for size in (int(s) for s in args.sizes.split(",")):
        matcher = LoFTRMatcher(model, size=size, batch=args.batch)
        variants = {
            "loftr classic pre-align (default path)": LoFTRMethod(
                LoFTROptions(prealign="classic"), matcher=matcher, prealigner=prealigner
            ),
            "loftr direct (no rotation handling)": LoFTRMethod(LoFTROptions(prealign="none"), matcher=matcher),
        }
        if size == args.search_size:
            variants["loftr rotation search 4x90, fixed features reused"] = LoFTRMethod(
                LoFTROptions(prealign="search"), matcher=matcher
            )
            variants["loftr rotation search 4x90, no reuse"] = LoFTRMethod(
                LoFTROptions(prealign="search"), matcher=NoReuse(matcher)
            )
        for name, method in variants.items():
            timed(size, name, lambda m=method: register_pair(fixed, moving, m))
        if args.device != "cpu":
            continue  # forward hooks would time kernel launches, not the work, on an asynchronous device
        prof = profile(model, matcher, to_gray(fw), warp_image(to_gray(mw), pre, fw.shape[:2]))
        share = ", ".join(f"{k} {v:.2f}s ({v / prof['total']:.0%})" for k, v in prof.items() if k in MODULE_NAMES)
        print(f"      profile of one LoFTR match ({prof['matches']:.0f} matches, {prof['total']:.2f} s): {share}")
        for k in ("backbone", "loftr_coarse", "loftr_fine"):
            rows.append({"loftr_size": size, "method": f"  part: loftr {k}", "seconds": round(prof.get(k, 0.0), 3)})
    frame = pd.DataFrame(rows)
    write_csv(args.out, frame)
    print(frame.pivot(index="method", columns="loftr_size", values="seconds").to_string())
    if not args.skip_accuracy:
        acc = prealign_accuracy(fixed, moving, 640)
        write_csv(args.out.with_name("register_prealign.csv"), acc)
        print("classic pre-alignment on the sample turned 0..330 deg (scale 1, 0.6, 1.6): in LoFTR's basin "
              f"(<20 deg, <25% scale) {acc['in_loftr_basin'].mean():.0%} of {len(acc)}, median residual "
              f"{acc['residual_deg'].median():.1f} deg, {acc['seconds'].median():.2f} s each")  # fmt: skip
        print(acc.groupby("scale")["in_loftr_basin"].mean().to_string())


if __name__ == "__main__":
    main()
