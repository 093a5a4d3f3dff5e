"""Held-out synthetic validation of LoFTR checkpoints on the same cases (for ablations at an equal step budget).

    python3 scripts/eval_checkpoints.py DATA.h5 cf-fa,cf-oct runs/a/last.ckpt runs/b/last.ckpt [--shift 0.3]

Every checkpoint sees the same validation pairs (the file's "val" split, rotation +-20 deg, scale 0.8-1.25, shift
<= 15 % or --shift, seed 0), each through its own input (grey or vessel map); prints coarse precision / recall /
top-1 on vessel cells and registration success (the benchmark's rule).
"""

from __future__ import annotations

import argparse

import torch

from vreg_cli.data.dataset import AugmentConfig
from vreg_cli.model.loftr import load_model
from vreg_cli.training.build import make_datasets, make_val_loader
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.distributed import DistInfo
from vreg_cli.training.validation import validate

KEYS = ("val_precision", "val_recall", "val_top1", "val_success", "val_cp_error_median")


def main(data: str, pairs: str, paths: list[str], shift: float) -> None:
    device = torch.device("cpu")
    augment = AugmentConfig(max_rotation=20, scale_range=(0.8, 1.25), max_translation=shift)
    for path in paths:
        model = load_model(path)
        cfg = TrainConfig(data=data, max_steps=1, weights=path, pairs=tuple(pairs.split(",")), workers=0,
                          batch_size=4, augment=augment)  # fmt: skip
        _, val_set = make_datasets(cfg, DistInfo(), model.config.input)
        if val_set is None:
            raise SystemExit(f"{data} has no validation split")
        out = validate(model, make_val_loader(val_set, cfg, device), device, max_items=64)
        print(path, pairs, {k: round(out[k], 3) for k in KEYS}, flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("pairs")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--shift", type=float, default=0.15, help="largest shift of the validation pairs (share of side)")
    args = ap.parse_args()
    main(args.data, args.pairs, args.checkpoints, args.shift)
