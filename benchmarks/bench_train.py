"""Training-step cost of the default frozen policy vs --freeze none: seconds per step and peak memory.

Each (device, policy) runs in its own child process so peak memory is its own: peak RSS on CPU (includes the
Python / torch baseline, reported separately), torch.cuda.max_memory_allocated on CUDA. One step = supervision,
LoFTR training forward, vessel-weighted loss, backward, AdamW step, on a synthetic CF-FA pair.

    python benchmarks/bench_train.py [--size 512] [--steps 3] [--device cpu|cuda|all] [--out bench/bench_train.json]

The GPU table (``--sweep``): for each size, frozen policy and precision, batches in ``--batches`` order until one
does not fit; steps/s, samples/s and peak GPU memory of each that fits, one JSON line per row in ``--out``:

    python benchmarks/bench_train.py --sweep --device cuda --sizes 512,640 --batches 8,16,32,64,128 --out rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

POLICIES = ("default", "none")


def _child(
    size: int, steps: int, freeze: str, device_name: str, batch: int = 1, amp: bool = True, arch: str = "minima"
) -> dict:
    import numpy as np
    import torch

    from vreg_cli.data.synth import make_triplet
    from vreg_cli.geometry import affine_matrix, warp_image
    from vreg_cli.io import to_gray
    from vreg_cli.model.loftr import LoFTRConfig, LoFTRModel
    from vreg_cli.model.loss import LossConfig, loftr_loss
    from vreg_cli.model.supervision import spvs_coarse, spvs_fine

    device = torch.device(device_name)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.manual_seed(0)
    t = make_triplet(0, size)
    aug = affine_matrix(30.0, 1.1, (10.0, -5.0), center=((size - 1) / 2, (size - 1) / 2))
    moving = warp_image(t["fa"], aug, (size, size))
    data0 = {
        "image0": torch.from_numpy(to_gray(t["cf"]).astype(np.float32) / 255)[None, None],
        "image1": torch.from_numpy(moving.astype(np.float32) / 255)[None, None],
        "vessel0": torch.from_numpy(t["vessel"])[None],
        "vessel1": torch.from_numpy(warp_image(t["vessel"].astype(np.float32), aug, (size, size)) > 0)[None],
        "moving_to_fixed": torch.from_numpy(np.linalg.inv(aug)).float()[None],
    }
    data0 = {k: v.expand(batch, *v.shape[1:]).contiguous() for k, v in data0.items()}
    model = LoFTRModel(LoFTRConfig.for_arch(arch).with_freeze(freeze)).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    amp_args = dict(device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")

    def step() -> float:
        data = {k: v.to(device) for k, v in data0.items()}
        spvs_coarse(data)
        with torch.autocast(**amp_args):
            model.forward_train(data)
        spvs_fine(data)
        loss, _ = loftr_loss(data, LossConfig())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        return float(loss)

    step()  # warm-up (allocator, kernels, AdamW state)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    out = {
        "device": device_name,
        "arch": arch,
        "freeze": freeze,
        "size": size,
        "batch": batch,
        "precision": "bf16" if amp_args["enabled"] else "fp32",
        "steps": steps,
        "s_per_step": float(np.median(times)),
        "steps_per_s": 1.0 / float(np.median(times)),
        "samples_per_s": batch / float(np.median(times)),
        "trainable_params": sum(p.numel() for p in params),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_rss_mib": baseline_kb / 1024,
    }
    if device.type == "cuda":
        out["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["gpu"] = torch.cuda.get_device_name()
    return out


def _sweep(args: argparse.Namespace) -> None:
    """The GPU table: every (size, freeze, precision), batches ascending until one runs out of memory."""
    import gc

    import torch

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]
    with out.open("a") as f:
        for amp in (True, False):  # bf16 first: the rows users need most come first if time runs out
            for size in (int(s) for s in args.sizes.split(",")):
                for freeze in POLICIES:
                    for batch in batches:
                        try:
                            row = _child(size, args.steps, freeze, args.device, batch, amp, args.arch)
                        except torch.OutOfMemoryError:
                            row = {"size": size, "freeze": freeze, "batch": batch, "arch": args.arch,
                                   "precision": "bf16" if amp else "fp32", "oom": True}  # fmt: skip
                        gc.collect()
                        if args.device == "cuda":
                            torch.cuda.empty_cache()
                        f.write(json.dumps(row) + "\n")
                        f.flush()
                        print(json.dumps(row), flush=True)
                        if row.get("oom"):
                            break


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="all", choices=("cpu", "cuda", "all"))
    ap.add_argument("--out", default="bench/bench_train.json")
    ap.add_argument("--child", nargs=2, metavar=("FREEZE", "DEVICE"), help=argparse.SUPPRESS)
    ap.add_argument("--sweep", action="store_true", help="the batch x precision x policy table (JSON lines)")
    ap.add_argument("--sizes", default="512,640", help="--sweep: image sizes")
    ap.add_argument("--batches", default="8,16,32,64,128", help="--sweep: batches, ascending, until out of memory")
    ap.add_argument("--arch", default="minima", help="--sweep: LoFTR preset (minima | small)")
    args = ap.parse_args()
    if args.sweep:
        _sweep(args)
        return
    if args.child:
        print(json.dumps(_child(args.size, args.steps, *args.child)))
        return

    import torch
    from rich.table import Table

    from vreg_cli.io import write_json
    from vreg_cli.ui import stdout

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    rows = []
    for device in devices:
        for freeze in POLICIES:
            cmd = [sys.executable, __file__, "--size", str(args.size), "--steps", str(args.steps)]
            proc = subprocess.run([*cmd, "--child", freeze, device], capture_output=True, text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    table = Table(title=f"training step, {args.size}x{args.size}, batch 1")
    for col in ("device", "freeze", "trainable", "s/step", "peak memory MiB", "time ratio", "memory ratio"):
        table.add_column(col, justify="right")
    result = {"rows": rows, "ratios": {}}
    for device in devices:
        by = {r["freeze"]: r for r in rows if r["device"] == device}
        mem_key = "peak_cuda_mib" if device == "cuda" else "peak_rss_mib"
        t_ratio = by["default"]["s_per_step"] / by["none"]["s_per_step"]
        m_ratio = by["default"][mem_key] / by["none"][mem_key]
        result["ratios"][device] = {"time_default_over_none": t_ratio, "memory_default_over_none": m_ratio}
        for freeze in POLICIES:
            r = by[freeze]
            ratios = (f"{t_ratio:.2f}", f"{m_ratio:.2f}") if freeze == "default" else ("1.00", "1.00")
            table.add_row(
                device, freeze, f"{r['trainable_params']:,}", f"{r['s_per_step']:.3f}", f"{r[mem_key]:.0f}", *ratios
            )
    stdout.print(table)
    write_json(Path(args.out), result)
    stdout.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
