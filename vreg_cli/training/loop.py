"""The training loop: supervision -> LoFTR forward -> vessel-weighted loss -> AdamW, with DDP, validation,
checkpoints and exact resume. Runs the same alone or under ``torchrun`` (only rank 0 writes)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import TextColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vreg_cli.errors import VregError
from vreg_cli.io import write_json
from vreg_cli.model.checkpoint import extract_state_dict, load_state
from vreg_cli.model.loftr import LoFTRModel, parameter_table
from vreg_cli.model.loss import loftr_loss
from vreg_cli.model.supervision import spvs_coarse, spvs_fine
from vreg_cli.paths import check_output_path
from vreg_cli.training import distributed as D
from vreg_cli.training.build import (
    build_model,
    make_datasets,
    make_loader,
    make_optimizer,
    make_val_loader,
    total_steps,
)
from vreg_cli.training.checkpoint import (
    BEST,
    LAST,
    load_trainer_state,
    resume_path,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.metrics_log import MetricsLog
from vreg_cli.training.validation import to_device, validate
from vreg_cli.ui import console, progress, warn


class _TrainForward(nn.Module):
    """DDP needs a ``forward``; this one runs LoFTR's training forward, which fills the data dict in place."""

    def __init__(self, model: LoFTRModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.forward_train(data)
        return data["conf_matrix"], data["expec_f"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    model: LoFTRModel
    val: dict[str, float] = field(default_factory=dict)  # last validation metrics
    best_score: float = -1.0  # best validation success (+ 1e-3 x precision as tie-break)


def _batches(loader, sampler, dataset, epoch: int, start: int) -> Iterator[tuple[dict, int, int]]:
    """Endless micro-batch stream yielding (batch, epoch, batches consumed in that epoch after this one)."""
    while True:
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        sampler.set_start(start * loader.batch_size)
        for k, batch in enumerate(loader, start=start + 1):
            yield batch, epoch, k
        epoch, start = epoch + 1, 0


def _nonfinite_message(step: int, parts: dict[str, float], run_dir: Path, last_saved: int | None) -> str:
    kept = f"{run_dir / LAST} (step {last_saved}) is kept" if last_saved else "no checkpoint had been written yet"
    values = ", ".join(f"{k}={v:.4g}" for k, v in parts.items())
    return (
        f"non-finite loss at step {step} ({values}): training stopped; the last good checkpoint {kept}. "
        "Lower --lr or check the data."
    )


def train(cfg: TrainConfig, resume: str | Path | None = None) -> TrainResult:
    """Run (or continue, with ``resume`` = RUN_DIR) a training run; returns where it ended."""
    info, device = D.setup(cfg.device)
    try:
        return _train(cfg, resume, info, device)
    finally:
        D.teardown(info)


def _train(cfg: TrainConfig, resume, info: D.DistInfo, device: torch.device) -> TrainResult:
    run_dir = Path(cfg.out)
    check_output_path(run_dir / LAST)  # an unwritable run directory fails now, not at the first checkpoint
    state = load_trainer_state(resume) if resume is not None else None
    model = build_model(cfg, info, state["model_config"] if state else None)
    if state:
        load_state(model, extract_state_dict(state, resume_path(resume)), resume_path(resume))
    model.to(device).train()
    train_set, val_set = make_datasets(cfg, info, model.config.input)
    sampler = D.ResumableSampler(train_set, info, cfg.seed, shuffle=True)
    loader = make_loader(train_set, sampler, cfg, device)
    steps = total_steps(cfg, math.ceil(sampler.num_samples / cfg.batch_size))
    optimizer, scheduler = make_optimizer(model, cfg, steps)
    step, epoch, pos, best, last_saved = 0, 0, 0, -1.0, None
    if state:
        try:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, epoch, pos = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
            best = float(state.get("metrics", {}).get("best_score", -1.0))
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise VregError(f"{resume_path(resume)}: optimiser/scheduler state does not fit this run ({exc})") from None
        last_saved = step
        rngs = state.get("rng") or []
        if len(rngs) == info.world:
            set_rng_state(rngs[info.rank])
        else:
            torch.manual_seed(cfg.seed + info.rank + step)
            if info.is_main:
                warn(f"resuming on {info.world} processes from a run on {len(rngs)}: RNG streams reseeded")
    else:
        torch.manual_seed(cfg.seed + info.rank)
    if step >= steps:
        raise VregError(f"{run_dir} is already at step {step} of {steps}; raise --max-steps to continue")

    val_loader = make_val_loader(val_set, cfg, device) if val_set is not None else None
    log = MetricsLog(run_dir, step if state else None) if info.is_main else None
    if info.is_main:
        console.print(parameter_table(model))
        write_json(run_dir / "config.json", cfg.to_dict())
        console.print(f"training on {device} ({info.world} process(es)), {steps} steps, run dir {run_dir}")
    net = _TrainForward(model)
    if info.enabled:
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda")
    params = [p for p in model.parameters() if p.requires_grad]
    stream = _batches(loader, sampler, train_set, epoch, pos)
    last_val: dict[str, float] = {}

    def checkpoint(path: Path, metrics: dict[str, float]) -> None:
        rngs = D.gather_objects(rng_state(), info)  # collective: every rank calls it
        if info.is_main:
            save_checkpoint(
                path,
                model,
                optimizer,
                scheduler,
                step=step,
                epoch=epoch,
                batch_in_epoch=pos,
                rng=rngs,
                train_config=cfg.to_dict(),
                metrics={**metrics, "best_score": best},
            )

    columns = (
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("lr {task.fields[lr]:.2e}"),
        TextColumn("{task.fields[sps]:.2f} steps/s"),
    )
    bar = progress(*columns) if info.is_main else contextlib.nullcontext()
    with bar:
        task = (
            bar.add_task("train", total=steps, completed=step, loss=float("nan"), lr=0.0, sps=0.0)
            if info.is_main
            else None
        )
        t_last, s_last = time.perf_counter(), step
        try:
            while step < steps:
                optimizer.zero_grad(set_to_none=True)
                parts_sum: dict[str, float] = {}
                for micro in range(cfg.grad_accum):
                    batch, b_epoch, b_pos = next(stream)
                    data = to_device(batch, device)
                    spvs_coarse(data, model.config.stride_c)
                    sync = (
                        contextlib.nullcontext() if micro == cfg.grad_accum - 1 or not info.enabled else net.no_sync()
                    )
                    with sync:
                        with torch.autocast(**autocast):
                            net(data)
                        spvs_fine(data, model.config.stride_f, model.config.fine_window_size)
                        loss, parts = loftr_loss(data, cfg.loss)
                        if D.any_true(not math.isfinite(parts["loss"]), info, device):
                            raise VregError(_nonfinite_message(step + 1, parts, run_dir, last_saved))
                        (loss / cfg.grad_accum).backward()
                    for key, value in parts.items():
                        parts_sum[key] = parts_sum.get(key, 0.0) + value / cfg.grad_accum
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
                if D.any_true(not math.isfinite(grad_norm), info, device):
                    raise VregError(
                        _nonfinite_message(step + 1, {**parts_sum, "grad_norm": grad_norm}, run_dir, last_saved)
                    )
                optimizer.step()
                scheduler.step()
                step, epoch, pos = step + 1, b_epoch, b_pos
                lr = optimizer.param_groups[0]["lr"]
                if info.is_main:
                    now = time.perf_counter()
                    sps = (step - s_last) / max(now - t_last, 1e-9)
                    bar.update(task, completed=step, loss=parts_sum["loss"], lr=lr, sps=sps)
                    if step % cfg.log_every == 0 or step == steps:
                        avg = {k: D.mean_over_ranks(v, info, device) for k, v in parts_sum.items()}
                        log.add(step, "train", {**avg, "lr": lr, "grad_norm": grad_norm, "steps_per_s": sps})
                        t_last, s_last = now, step
                elif step % cfg.log_every == 0 or step == steps:
                    for v in parts_sum.values():
                        D.mean_over_ranks(v, info, device)
                if val_loader is not None and (step % cfg.val_every == 0 or step == steps):
                    if info.is_main:
                        last_val = validate(
                            model,
                            val_loader,
                            device,
                            success_px=cfg.success_px,
                            ransac_px=cfg.ransac_px,
                            max_items=cfg.val_max_items,
                        )
                        log.add(step, "val", last_val)
                        console.print(
                            f"step {step}: precision {last_val['val_precision']:.3f}, recall "
                            f"{last_val['val_recall']:.3f}, success {last_val['val_success']:.3f}"
                        )
                    last_val = D.gather_objects(last_val, info)[0]
                    score = last_val["val_success"] + 1e-3 * last_val["val_precision"]  # precision breaks ties
                    if score > best:
                        best = score
                        checkpoint(run_dir / BEST, last_val)
                if step % cfg.ckpt_every == 0 or step == steps:
                    checkpoint(run_dir / LAST, last_val)
                    last_saved = step
        except KeyboardInterrupt:
            if not info.enabled and step > 0 and last_saved != step:
                checkpoint(run_dir / LAST, last_val)
                console.print(f"interrupted: saved {run_dir / LAST} at step {step}; continue with --resume {run_dir}")
            raise
        finally:
            if log is not None:
                log.close()
    return TrainResult(run_dir, step, model, last_val, best)
