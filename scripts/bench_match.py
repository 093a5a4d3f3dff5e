"""Time ``LoFTRModel.match`` on CPU (random weights) and split it by submodule.

Usage: python scripts/bench_match.py [--threads 2] [--repeats 3] [--sizes 640x480,512x512]
Prints, per image size, the median wall and CPU seconds per pair and the share of each submodule (forward hooks).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch

from vreg_cli.model.config import MODULE_NAMES
from vreg_cli.model.loftr import LoFTRModel


def _hooked(model: LoFTRModel) -> dict[str, float]:
    """Accumulated forward seconds per submodule, filled by hooks during the next calls."""
    spent: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    for name in MODULE_NAMES:
        module = getattr(model, name)
        module.register_forward_pre_hook(lambda _m, _i, n=name: started.__setitem__(n, time.perf_counter()))
        module.register_forward_hook(
            lambda _m, _i, _o, n=name: spent.__setitem__(n, spent[n] + time.perf_counter() - started[n])
        )
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="640x480,512x512", help="comma-separated WxH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LoFTRModel().eval()
    spent = _hooked(model)
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        image0 = torch.nn.functional.avg_pool2d(torch.rand(1, 1, h, w), 5, 1, 2)
        image1 = torch.roll(image0, (8, 16), (2, 3))
        model.match(image0, image1)  # warm-up
        spent.clear()
        times, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            model.match(image0, image1)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        total = sum(times)
        shares = ", ".join(f"{n} {spent[n] / total:.0%}" for n in MODULE_NAMES if spent[n] / total >= 0.005)
        # CPU seconds are robust to other processes on a shared machine; wall ~ CPU / threads when it is idle
        print(
            f"{w}x{h}: {statistics.median(times):.2f} s/pair wall, {statistics.median(cpu):.2f} CPU-s/pair "
            f"(threads={args.threads}); {shares}"
        )


if __name__ == "__main__":
    main()
