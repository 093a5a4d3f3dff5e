"""`vreg train`: fine-tune LoFTR (MINIMA weights, frozen backbone) on a prepared HDF5 with a vessel-weighted loss."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from vreg_cli.cli import app, parse_range, renamed_option, shown_default, user_errors
from vreg_cli.data.augment import AugmentConfig
from vreg_cli.errors import VregError
from vreg_cli.model.loss_config import LossConfig
from vreg_cli.training.config import TrainConfig
from vreg_cli.ui import console

__all__: list[str] = []


_AUG = "Augmentation"
_OPT = "Optimisation"
_RUN = "Run"

# The options below default to None ("not given": --resume refuses what cannot change and keeps the rest); the
# default each one shows is the owning config field's (TrainConfig, AugmentConfig, LossConfig): shown_default.


@app.command()
@user_errors
def train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Prepared HDF5 (`vreg prepare`).",
            rich_help_panel=_RUN,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run directory (checkpoints, metrics.csv, config.json).",
            rich_help_panel=_RUN,
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="MINIMA / LoFTR .ckpt or a vreg checkpoint to start from.",
            rich_help_panel=_RUN,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue the run in this directory exactly where it stopped.",
            rich_help_panel=_RUN,
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            help="Optimiser steps to train (total, also when resuming).",
            rich_help_panel=_RUN,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Epochs to train when --max-steps is not given.",
            rich_help_panel=_RUN,
        ),
    ] = None,
    modalities: Annotated[
        str | None,
        typer.Option(
            help="Modality pairs, mixed: cf-fa,cf-oct[,cf-octa].",
            show_default=shown_default(TrainConfig, "pairs"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    old_pairs: Annotated[str | None, typer.Option("--pairs", hidden=True)] = None,  # --modalities' name in 0.1.0
    freeze: Annotated[
        str | None,
        typer.Option(
            help="Frozen modules: default (backbone, pos_encoding, fine_preprocess) | none | comma list.",
            show_default="default with --weights, none from scratch",
            rich_help_panel=_OPT,
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(
            help="LoFTR size preset for random init: minima (11.6 M parameters) | small (2.2 M, trains on a CPU).",
            show_default="the weights' own, else minima",
            rich_help_panel=_RUN,
        ),
    ] = None,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="What the network sees: gray | vessels (classic's polarity-free vessel map of both images).",
            show_default="the weights' own, else gray",
            rich_help_panel=_RUN,
        ),
    ] = None,
    vessel_eps: Annotated[
        float | None,
        typer.Option(
            help="Coarse-loss weight of background pairs vs vessel pairs.",
            show_default=shown_default(LossConfig, "vessel_eps"),
            rich_help_panel=_OPT,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Pairs per batch (per process).",
            show_default=shown_default(TrainConfig, "batch_size"),
            rich_help_panel=_OPT,
        ),
    ] = None,
    grad_accum: Annotated[
        int | None,
        typer.Option(
            help="Batches accumulated per optimiser step.",
            show_default=shown_default(TrainConfig, "grad_accum"),
            rich_help_panel=_OPT,
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help="Peak AdamW learning rate.",
            show_default=shown_default(TrainConfig, "lr"),
            rich_help_panel=_OPT,
        ),
    ] = None,
    warmup_steps: Annotated[
        int | None,
        typer.Option(
            help="Linear warm-up steps before the cosine decay.",
            show_default="5% of the run",
            rich_help_panel=_OPT,
        ),
    ] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            help="Train at N x N (multiple of 8).",
            show_default="the HDF5 size",
            rich_help_panel=_RUN,
        ),
    ] = None,
    max_rotation: Annotated[
        float | None,
        typer.Option(
            help="Moving-image rotation up to +-DEG.",
            show_default=shown_default(AugmentConfig, "max_rotation"),
            rich_help_panel=_AUG,
        ),
    ] = None,
    scale_range: Annotated[
        str | None,
        typer.Option(
            help="Moving-image scale range LO,HI.",
            show_default=shown_default(AugmentConfig, "scale_range"),
            rich_help_panel=_AUG,
        ),
    ] = None,
    max_translation: Annotated[
        float | None,
        typer.Option(
            help="Shift up to this fraction of the side.",
            show_default=shown_default(AugmentConfig, "max_translation"),
            rich_help_panel=_AUG,
        ),
    ] = None,
    max_shear: Annotated[
        float | None,
        typer.Option(
            help="Shear up to +-DEG.",
            show_default=shown_default(AugmentConfig, "max_shear"),
            rich_help_panel=_AUG,
        ),
    ] = None,
    flip_prob: Annotated[
        float | None,
        typer.Option(
            help="Probability of mirroring the moving image.",
            show_default=shown_default(AugmentConfig, "flip_prob"),
            rich_help_panel=_AUG,
        ),
    ] = None,
    photometric: Annotated[
        bool,
        typer.Option(
            "--photometric",
            help="Random gamma, contrast and noise on both images.",
            rich_help_panel=_AUG,
        ),
    ] = AugmentConfig.photometric,
    val_every: Annotated[
        int | None,
        typer.Option(
            help="Validate every N steps (and at the end).",
            show_default=shown_default(TrainConfig, "val_every"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    ckpt_every: Annotated[
        int | None,
        typer.Option(
            help="Write last.ckpt every N steps (and at the end).",
            show_default=shown_default(TrainConfig, "ckpt_every"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    val_items: Annotated[
        int | None,
        typer.Option(
            help="Validation pairs per validation.",
            show_default=shown_default(TrainConfig, "val_max_items"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="auto | cuda | mps | cpu.",
            show_default=shown_default(TrainConfig, "device"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="DataLoader worker processes.",
            show_default=shown_default(TrainConfig, "workers"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of init, sampling and augmentation.",
            show_default=shown_default(TrainConfig, "seed"),
            rich_help_panel=_RUN,
        ),
    ] = None,
    no_amp: Annotated[
        bool,
        typer.Option(
            "--no-amp",
            help="Train in float32 on CUDA (bf16 autocast by default).",
            rich_help_panel=_OPT,
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Start a new run in --out even if it holds a checkpoint.",
            rich_help_panel=_RUN,
        ),
    ] = False,
) -> None:
    """Fine-tune LoFTR on CF-FA / CF-OCT pairs with a vessel-weighted loss (works under torchrun)."""
    from vreg_cli.training.loop import train as run_training
    from vreg_cli.training.resume import resume_config

    modalities = renamed_option("--modalities", "--pairs", modalities, old_pairs)
    if resume is not None:
        if out is not None and out.resolve() != resume.resolve():
            raise VregError("--out and --resume name different directories; --resume continues in place")
        changes = dict(max_steps=max_steps, epochs=epochs, device=device, workers=workers, val_every=val_every,
                       ckpt_every=ckpt_every, data=str(data.resolve()) if data else None)  # fmt: skip
        fixed = dict(weights=weights, modalities=modalities, freeze=freeze, vessel_eps=vessel_eps,
                     batch_size=batch_size, lr=lr, image_size=image_size, max_rotation=max_rotation, seed=seed,
                     arch=arch, input=input_)  # fmt: skip
        given = [k.replace("_", "-") for k, v in fixed.items() if v is not None]
        if given:
            raise VregError(f"--{', --'.join(given)} cannot change when resuming (the run's config is kept)")
        cfg = resume_config(resume, **changes)
        result = run_training(cfg, resume=resume)
    else:
        if data is None or out is None:
            raise VregError("give --data and --out (or --resume RUN_DIR)")
        if (out / "last.ckpt").exists() and not force:
            raise VregError(f"{out} already holds a run; continue it with --resume {out} or replace it with --force")
        # absolute paths in config.json, so that --resume works from any folder
        base = TrainConfig(data=str(data.resolve()), out=str(out.resolve()), max_steps=1)
        aug = base.augment
        for name, value in (("max_rotation", max_rotation), ("max_translation", max_translation),
                            ("max_shear", max_shear), ("flip_prob", flip_prob)):  # fmt: skip
            if value is not None:
                setattr(aug, name, value)
        if scale_range is not None:
            aug.scale_range = parse_range(scale_range, "--scale-range")
        aug.photometric = photometric
        base.loss.vessel_eps = vessel_eps if vessel_eps is not None else base.loss.vessel_eps
        options = dict(weights=str(weights) if weights else None, pairs=modalities, batch_size=batch_size,
                       grad_accum=grad_accum, lr=lr, warmup_steps=warmup_steps, image_size=image_size,
                       val_every=val_every, ckpt_every=ckpt_every, val_max_items=val_items, device=device,
                       workers=workers, seed=seed)  # fmt: skip
        options = {k: v for k, v in options.items() if v is not None}
        if max_steps is None and epochs is None:
            raise VregError("give --max-steps or --epochs")
        cfg = TrainConfig.from_dict(
            {
                **base.to_dict(),
                **options,
                "max_steps": max_steps,
                "epochs": epochs,
                "freeze": freeze,
                "arch": arch,
                "input": input_,
                "amp": not no_amp,
                "augment": aug,
                "loss": base.loss,
            }  # fmt: skip
        )
        result = run_training(cfg)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    val = result.val
    summary = f"done: step {result.step}, checkpoints in {result.run_dir}"
    if val:
        summary += f" (val precision {val['val_precision']:.3f}, success {val['val_success']:.3f})"
    console.print(summary, soft_wrap=True)
    best = Path(result.run_dir) / "best.ckpt"
    use = best if best.is_file() else Path(result.run_dir) / "last.ckpt"
    console.print(
        f"next: vreg report {result.run_dir}  (curves, freeze table, validation matches in report.html); "
        f"vreg register CF MOVING -o OUT --checkpoint {use}",
        soft_wrap=True,
    )
