"""Strip a `vreg train` checkpoint to what inference needs, for bundling in the repository.

    python3 experiments/bundle_checkpoint.py runs/small/best.ckpt data_specs/weights/loftr_small_vessels.ckpt

Keeps the vreg format (``format``, ``version``, ``model_config``, ``model``) and, as provenance, the step, the
training config and the validation metrics; drops the optimiser, scheduler and RNG state (two thirds of the file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vreg_cli.model.loftr import load_model
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.paths import atomic_output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    obj = read_checkpoint(args.source)
    model = load_model(args.source)  # strict: the stripped file must load the same way
    keep = {k: obj[k] for k in ("format", "version", "model_config", "model", "step", "train_config", "metrics")}
    keep["model_config"] = {**keep["model_config"], "freeze": []}  # inference has nothing to freeze
    args.target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.target) as tmp:
        torch.save(keep, tmp)
    reloaded = load_model(args.target)
    same = all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values(), strict=True)
    )
    size = args.target.stat().st_size / 2**20
    print(
        f"{args.target}: {size:.1f} MiB, step {keep['step']}, {reloaded.config.arch} / {reloaded.config.input}, "
        f"weights identical: {same}"
    )


if __name__ == "__main__":
    main()
