"""The training loop: supervision -> LoFTR forward -> vessel-weighted loss -> AdamW, with DDP, validation,
checkpoints and exact resume. Runs the same alone or under ``torchrun`` (only rank 0 writes).

:class:`_Run` holds one run: ``__init__`` builds it (model, data, optimiser) and restores a resumed run
(:func:`_restore`); :meth:`_Run.loop` reads as its table of contents: :meth:`~_Run.step`, :meth:`~_Run.log_step`,
:meth:`~_Run.evaluate` (validation and best.ckpt) and :meth:`~_Run.save` (last.ckpt).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from rich.progress import TextColumn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vreg_cli.errors import VregError
from vreg_cli.io import write_json
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

__all__ = ["train"]


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


def _train(cfg: TrainConfig, resume: str | Path | None, info: D.DistInfo, device: torch.device) -> TrainResult:
    return _Run(cfg, resume, info, device).loop()


@dataclass
class _Position:
    """Where a run stands: optimiser steps done, the epoch and the batches consumed in it, best score, last save."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: float = -1.0  # best validation score so far (val_success + 1e-3 x val_precision)
    last_saved: int | None = None  # step of the newest last.ckpt


def _restore(
    state: dict[str, Any],
    path: Path,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: TrainConfig,
    info: D.DistInfo,
) -> _Position:
    """Resume: optimiser, scheduler, position and this rank's RNG state from trainer checkpoint ``state``.

    The model's weights were loaded when it was built (``build_model``). With a different number of processes than
    the checkpoint's run, the RNG streams are reseeded (and a warning says so): the run continues, not exactly.
    """
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        at = _Position(int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"]))
        at.best = float(state.get("metrics", {}).get("best_score", -1.0))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise VregError(f"{path}: optimiser/scheduler state does not fit this run ({exc})") from None
    at.last_saved = at.step
    rngs = state.get("rng") or []
    if len(rngs) == info.world:
        set_rng_state(rngs[info.rank])
    else:
        torch.manual_seed(cfg.seed + info.rank + at.step)
        if info.is_main:
            warn(f"resuming on {info.world} processes from a run on {len(rngs)}: RNG streams reseeded")
    return at


class _Run:
    """One training run (new or resumed): its model, data stream, optimiser, position and logs."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None, info: D.DistInfo, device: torch.device) -> None:
        self.cfg, self.info, self.device = cfg, info, device
        self.run_dir = Path(cfg.out)
        check_output_path(self.run_dir / LAST)  # an unwritable run directory fails now, not at the first checkpoint
        path = resume_path(resume) if resume is not None else None
        state = load_trainer_state(resume) if resume is not None else None
        self.model = build_model(cfg, info, path, state)
        self.model.to(device).train()
        train_set, val_set = make_datasets(cfg, info, self.model.config.input)
        sampler = D.ResumableSampler(train_set, info, cfg.seed, shuffle=True)
        loader = make_loader(train_set, sampler, cfg, device)
        self.steps = total_steps(cfg, math.ceil(sampler.num_samples / cfg.batch_size))
        self.optimizer, self.scheduler = make_optimizer(self.model, cfg, self.steps)
        if state is not None and path is not None:
            self.at = _restore(state, path, self.optimizer, self.scheduler, cfg, info)
        else:
            torch.manual_seed(cfg.seed + info.rank)
            self.at = _Position()
        if self.at.step >= self.steps:
            raise VregError(
                f"{self.run_dir} is already at step {self.at.step} of {self.steps}; raise --max-steps to continue"
            )

        self.val_loader = make_val_loader(val_set, cfg, device) if val_set is not None else None
        self.log = MetricsLog(self.run_dir, self.at.step if state else None) if info.is_main else None
        if info.is_main:
            console.print(parameter_table(self.model))
            write_json(self.run_dir / "config.json", cfg.to_dict())
            console.print(
                f"training on {device} ({info.world} process(es){D.backend_note()}), {self.steps} steps, "
                f"run dir {self.run_dir}"
            )
        # DDP wraps the model itself: its forward is the training forward (frozen modules stay in eval and the
        # frozen backbone runs without autograd: LoFTRModel.train / forward_train see to both)
        self.net: torch.nn.Module = self.model
        if info.enabled:
            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.autocast: dict[str, Any] = dict(
            device_type=device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.stream = _batches(loader, sampler, train_set, self.at.epoch, self.at.batch_in_epoch)
        self.last_val: dict[str, float] = {}
        columns = (
            TextColumn("loss {task.fields[loss]:.4f}"),
            TextColumn("lr {task.fields[lr]:.2e}"),
            TextColumn("{task.fields[sps]:.2f} steps/s"),
        )
        self.bar = progress(*columns) if info.is_main else None
        self.task: Any = None
        self.t_last, self.s_last = 0.0, 0  # time and step of the last logged row (steps/s)

    def loop(self) -> TrainResult:
        """Train to ``steps``: step, log, evaluate and save when due; Ctrl-C (single process) saves last.ckpt."""
        cfg, at = self.cfg, self.at
        with self.bar if self.bar is not None else contextlib.nullcontext():
            if self.bar is not None:
                self.task = self.bar.add_task(
                    "train", total=self.steps, completed=at.step, loss=float("nan"), lr=0.0, sps=0.0
                )
            self.t_last, self.s_last = time.perf_counter(), at.step
            try:
                while at.step < self.steps:
                    parts, grad_norm = self.step()
                    self.log_step(parts, grad_norm)
                    if self.val_loader is not None and self._due(cfg.val_every):
                        self.evaluate(self.val_loader)
                    if self._due(cfg.ckpt_every):
                        self.save(LAST)
                        at.last_saved = at.step
            except KeyboardInterrupt:
                if not self.info.enabled and at.step > 0 and at.last_saved != at.step:
                    self.save(LAST)
                    console.print(
                        f"interrupted: saved {self.run_dir / LAST} at step {at.step}; "
                        f"continue with --resume {self.run_dir}"
                    )
                raise
            finally:
                if self.log is not None:
                    self.log.close()
        return TrainResult(self.run_dir, at.step, self.model, self.last_val, at.best)

    def _due(self, every: int) -> bool:
        """True every ``every`` steps and at the last step."""
        return self.at.step % every == 0 or self.at.step == self.steps

    def step(self) -> tuple[dict[str, float], float]:
        """One optimiser step over ``grad_accum`` micro-batches; returns (loss parts averaged over them, grad norm).

        Raises:
            VregError: on every rank when the loss or the gradient norm is not finite on any rank.
        """
        cfg, info, device, model = self.cfg, self.info, self.device, self.model
        self.optimizer.zero_grad(set_to_none=True)
        parts_sum: dict[str, float] = {}
        for micro in range(cfg.grad_accum):
            batch, b_epoch, b_pos = next(self.stream)
            data = to_device(batch, device)
            spvs_coarse(data, model.config.stride_c)
            reduce_now = micro == cfg.grad_accum - 1 or not info.enabled  # DDP reduces gradients on the last one
            with contextlib.nullcontext() if reduce_now else cast(DistributedDataParallel, self.net).no_sync():
                with torch.autocast(**self.autocast):
                    data = self.net(data)  # the returned dict: DDP on CUDA fills a copy of ``data``
                spvs_fine(data, model.config.stride_f, model.config.fine_window_size)
                loss, parts = loftr_loss(data, cfg.loss)
                if D.any_true(not math.isfinite(parts["loss"]), info, device):
                    raise VregError(_nonfinite_message(self.at.step + 1, parts, self.run_dir, self.at.last_saved))
                (loss / cfg.grad_accum).backward()
            for key, value in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + value / cfg.grad_accum
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip))
        if D.any_true(not math.isfinite(grad_norm), info, device):
            raise VregError(
                _nonfinite_message(
                    self.at.step + 1, {**parts_sum, "grad_norm": grad_norm}, self.run_dir, self.at.last_saved
                )
            )
        self.optimizer.step()
        self.scheduler.step()
        self.at.step, self.at.epoch, self.at.batch_in_epoch = self.at.step + 1, b_epoch, b_pos
        return parts_sum, grad_norm

    def log_step(self, parts: dict[str, float], grad_norm: float) -> None:
        """Progress bar (rank 0) and, every ``log_every`` steps, a metrics.csv row of the loss averaged over ranks."""
        step, info, device = self.at.step, self.info, self.device
        lr = self.optimizer.param_groups[0]["lr"]
        due = self._due(self.cfg.log_every)
        avg = {k: D.mean_over_ranks(v, info, device) for k, v in parts.items()} if due else {}  # collective
        if not info.is_main:
            return
        now = time.perf_counter()
        sps = (step - self.s_last) / max(now - self.t_last, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=parts["loss"], lr=lr, sps=sps)
        if due and self.log is not None:
            self.log.add(step, "train", {**avg, "lr": lr, "grad_norm": grad_norm, "steps_per_s": sps})
            self.t_last, self.s_last = now, step

    def evaluate(self, val_loader: DataLoader) -> None:
        """Validate on rank 0, share the metrics with every rank and save best.ckpt when the score improved."""
        if self.log is not None:  # rank 0
            self.last_val = validate(self.model, val_loader, self.device, max_items=self.cfg.val_max_items)
            self.log.add(self.at.step, "val", self.last_val)
            console.print(
                f"step {self.at.step}: precision {self.last_val['val_precision']:.3f}, recall "
                f"{self.last_val['val_recall']:.3f}, success {self.last_val['val_success']:.3f}"
            )
        self.last_val = D.gather_objects(self.last_val, self.info)[0]
        score = self.last_val["val_success"] + 1e-3 * self.last_val["val_precision"]  # precision breaks ties
        if score > self.at.best:
            self.at.best = score
            self.save(BEST)

    def save(self, name: str) -> None:
        """Write RUN_DIR/``name`` (rank 0) with every rank's RNG state; a collective: every rank calls it."""
        rngs = D.gather_objects(rng_state(), self.info)
        if self.info.is_main:
            at = self.at
            save_checkpoint(
                self.run_dir / name,
                self.model,
                self.optimizer,
                self.scheduler,
                step=at.step,
                epoch=at.epoch,
                batch_in_epoch=at.batch_in_epoch,
                rng=rngs,
                train_config=self.cfg.to_dict(),
                metrics={**self.last_val, "best_score": at.best},
            )
