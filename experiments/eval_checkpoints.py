"""Held-out synthetic validation of LoFTR checkpoints on the same cases (for ablations at an equal step budget).

    python3 experiments/eval_checkpoints.py DATA.h5 cf-fa,cf-oct runs/a/last.ckpt runs/b/last.ckpt [--shift 0.3] \
        [--csv OUT.csv]

Every checkpoint sees the same validation pairs (the file's "val" split, rotation +-20 deg, scale 0.8-1.25, shift
<= 15 % or --shift, seed 0), each through its own input (grey or vessel map); prints coarse precision / recall /
top-1 on vessel cells and registration success (the benchmark's rule); ``--csv`` also writes them, one row per
checkpoint (atomically).
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from vreg_cli.data.dataset import AugmentConfig, PairDataset
from vreg_cli.data.h5 import VregH5
from vreg_cli.io import write_csv
from vreg_cli.model.loftr import load_model
from vreg_cli.training.build import make_val_loader
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.validation import validate

KEYS = ("val_precision", "val_recall", "val_top1", "val_success", "val_cp_error_median")


def main(data: str, pairs: str, paths: list[str], shift: float, csv: str | None = None) -> None:
    device = torch.device("cpu")
    rows = []
    augment = AugmentConfig(max_rotation=20, scale_range=(0.8, 1.25), max_translation=shift)
    for path in paths:
        model = load_model(path)
        cfg = TrainConfig(data=data, max_steps=1, weights=path, pairs=tuple(pairs.split(",")), workers=0,
                          batch_size=4, augment=augment)  # fmt: skip
        if len(VregH5(data).indices("val")) == 0:
            raise SystemExit(f"{data} has no validation split")
        # the same fixed validation cases make_datasets builds, without needing a training split
        val_set = PairDataset(data, "val", cfg.pairs, augment, cfg.image_size, seed=cfg.seed + 1, fixed_seed=True,
                              input_mode=model.config.input)  # fmt: skip
        out = validate(model, make_val_loader(val_set, cfg, device), device, max_items=None)
        print(path, pairs, {k: round(out[k], 3) for k in KEYS}, flush=True)
        rows.append({"checkpoint": path, "pairs": pairs, **{k: out[k] for k in KEYS}})
    if csv:
        write_csv(csv, pd.DataFrame(rows))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("pairs")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--shift", type=float, default=0.15, help="largest shift of the validation pairs (share of side)")
    ap.add_argument("--csv", help="also write the figures to this CSV, one row per checkpoint")
    args = ap.parse_args()
    main(args.data, args.pairs, args.checkpoints, args.shift, args.csv)
