"""The training loop: exact resume, frozen modules, NaN stop, the CLI and 2-process DDP (gloo, CPU)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from train_helpers import write_minima_file, write_synth_h5
from typer.testing import CliRunner

import vreg_cli.training.loop as loop
from vreg_cli.benchmark.config import CaseConfig, Thresholds
from vreg_cli.benchmark.metrics import case_metrics
from vreg_cli.cli import app
from vreg_cli.data.dataset import AugmentConfig
from vreg_cli.errors import VregError
from vreg_cli.model.loftr import LoFTRModel, load_model
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.loop import train
from vreg_cli.training.resume import resume_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train")
    return write_synth_h5(root / "d.h5", n=4, size=128, n_val=1), write_minima_file(root / "minima.ckpt", seed=1)


def _cfg(files, out: Path, **kw) -> TrainConfig:
    data, weights = files
    base = dict(
        data=str(data), out=str(out), weights=str(weights), max_steps=4, batch_size=1, workers=0, ckpt_every=2,
        val_every=100, val_max_items=1, log_every=1, lr=1e-3, pairs=("cf-fa",),
        augment=AugmentConfig(max_rotation=30),
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _fail_on_call(n: int, exc_or_value):
    """A loftr_loss replacement that misbehaves on its n-th call (1-based)."""
    real, calls = loop.loftr_loss, {"n": 0}

    def fake(data, cfg):
        calls["n"] += 1
        loss, parts = real(data, cfg)
        if calls["n"] == n:
            if isinstance(exc_or_value, BaseException):
                raise exc_or_value
            return loss * exc_or_value, {k: v * exc_or_value for k, v in parts.items()}
        return loss, parts

    return fake


@pytest.mark.slow
def test_resume_equals_uninterrupted_run_and_frozen_modules_stay(files, tmp_path, monkeypatch):
    full = train(_cfg(files, tmp_path / "full"))
    monkeypatch.setattr(loop, "loftr_loss", _fail_on_call(3, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C during step 3: last.ckpt holds step 2
        train(_cfg(files, tmp_path / "cut"))
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "cut" / "last.ckpt")["step"] == 2
    resumed = train(resume_config(tmp_path / "cut"), resume=tmp_path / "cut")
    assert resumed.step == full.step == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    metrics = pd.read_csv(tmp_path / "cut" / "metrics.csv")
    assert metrics[metrics.kind == "train"].step.tolist() == [1, 2, 3, 4]

    # default policy: backbone and fine_preprocess (weights and BatchNorm buffers) bit-identical, transformers moved
    start = {k[len("matcher.") :]: v for k, v in torch.load(files[1])["state_dict"].items()}
    for key, value in a.items():
        if key.startswith(("backbone.", "fine_preprocess.")):
            assert torch.equal(value, start[key]), key
    assert not torch.equal(a["loftr_coarse.layers.0.q_proj.weight"], start["loftr_coarse.layers.0.q_proj.weight"])
    assert not torch.equal(a["loftr_fine.layers.0.q_proj.weight"], start["loftr_fine.layers.0.q_proj.weight"])

    # the checkpoints are vreg checkpoints that register / benchmark load like any weights
    model = load_model(tmp_path / "full" / "best.ckpt")
    assert model.config.freeze == ("backbone", "pos_encoding", "fine_preprocess")
    saved = read_checkpoint(tmp_path / "full" / "last.ckpt")
    assert {"optimizer", "scheduler", "step", "rng", "train_config", "metrics"} <= set(saved)


@pytest.mark.slow
def test_step_reads_the_dict_the_forward_returns(files, tmp_path, monkeypatch):
    # DDP with device_ids (CUDA) hands the model's forward a copy of the batch dict, moved to the device: the step
    # must continue with the dict the forward returns (simulated here by a forward that fills a copy)
    real = LoFTRModel.forward
    monkeypatch.setattr(LoFTRModel, "forward", lambda self, data: real(self, dict(data)))
    assert train(_cfg(files, tmp_path / "copy", max_steps=1)).step == 1


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(files, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "loftr_loss", _fail_on_call(3, float("nan")))
    with pytest.raises(VregError, match=r"non-finite loss at step 3 .*last\.ckpt \(step 2\) is kept"):
        train(_cfg(files, tmp_path / "nan"))
    ckpt = read_checkpoint(tmp_path / "nan" / "last.ckpt")
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


@pytest.mark.slow
def test_cli_train_resume_and_refusals(files, tmp_path, monkeypatch):
    data, weights = files
    out = tmp_path / "cli"
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)  # relative --data and --out: config.json stores them absolute (resumed elsewhere below)
    args = ["train", "--data", os.path.relpath(data), "--weights", str(weights), "--out", "cli", "--max-steps", "1",
            "--batch-size", "1", "--workers", "0", "--modalities", "cf-oct", "--val-items", "1",
            "--vessel-eps", "0.1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trainable" in result.output and (out / "config.json").is_file() and (out / "best.ckpt").is_file()
    assert f"next: vreg report {out}" in " ".join(result.output.split())  # the run says where to look next
    stored = json.loads((out / "config.json").read_text())
    assert stored["data"] == str(data.resolve()) and stored["out"] == str(out.resolve())
    assert read_checkpoint(out / "last.ckpt")["train_config"]["loss"]["vessel_eps"] == 0.1
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    resumed = runner.invoke(app, ["train", "--resume", str(out), "--max-steps", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert read_checkpoint(out / "last.ckpt")["step"] == 2
    refused = runner.invoke(app, ["train", "--resume", str(out), "--max-steps", "3", "--lr", "1"])
    assert refused.exit_code == 2 and "cannot change" in refused.output
    missing = runner.invoke(
        app, ["train", "--data", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "x"), "--max-steps", "1"]
    )
    assert missing.exit_code == 2 and "nope.h5" in missing.output
    # --resume loads through the one weights loader: its strict key check and one-line message
    broken = tmp_path / "broken"
    broken.mkdir()
    ckpt = read_checkpoint(out / "last.ckpt")
    ckpt["model"]["typo"] = ckpt["model"].pop("loftr_fine.layers.0.q_proj.weight")
    torch.save(ckpt, broken / "last.ckpt")
    bad = runner.invoke(app, ["train", "--resume", str(broken), "--max-steps", "3"])
    text = " ".join(bad.output.split())
    assert bad.exit_code == 2 and "weights do not fit this LoFTR model; 1 missing: loftr_fine.layers.0.q_proj" in text


@pytest.mark.slow
def test_random_init_trains_every_module(files, tmp_path):
    data, _ = files
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "r"),
            "--max-steps",
            "1",
            "--batch-size",
            "1",
            "--workers",
            "0",
            "--val-items",
            "1",
            "--modalities",
            "cf-fa",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "minima LoFTR from random init, every module trained" in " ".join(result.output.split())
    assert load_model(tmp_path / "r" / "last.ckpt").config.freeze == ()  # from scratch: --freeze none


#: `vreg train` under torchrun, each rank then saving the weights its process ended with (RUN_DIR/rank{RANK}.pt)
_DDP_ENTRY = """
import os, sys
from pathlib import Path
import torch
import vreg_cli.training.loop as loop
from vreg_cli.cli import app

real = loop.train

def train_and_dump(cfg, resume=None):
    result = real(cfg, resume)
    torch.save(result.model.state_dict(), Path(cfg.out) / f"rank{os.environ['RANK']}.pt")
    return result

loop.train = train_and_dump
app(sys.argv[1:], prog_name="vreg")
"""


@pytest.mark.slow
def test_ddp_two_processes_gloo(files, tmp_path):
    data, weights = files
    out = tmp_path / "ddp"
    entry = tmp_path / "ddp_entry.py"
    entry.write_text(_DDP_ENTRY)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(entry),
           "train", "--data", str(data), "--weights", str(weights), "--out", str(out), "--max-steps", "2",
           "--batch-size", "1", "--workers", "0", "--val-items", "1", "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es)" in " ".join(proc.stderr.split())
    ckpt = read_checkpoint(out / "last.ckpt")
    assert ckpt["step"] == 2 and len(ckpt["rng"]) == 2  # one RNG state per rank
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics[metrics.kind == "train"].step.tolist() == [2]  # logged once (by rank 0 only)
    # the ranks trained on different shards yet end with identical weights (gradients were all-reduced), equal
    # to the checkpoint rank 0 wrote, and the trainable modules moved away from the starting weights
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys() == ckpt["model"].keys()
    assert [k for k in rank0 if not torch.equal(rank0[k], rank1[k])] == []
    assert all(torch.equal(rank0[k], ckpt["model"][k]) for k in rank0)
    start = {k.removeprefix("matcher."): v for k, v in torch.load(weights, weights_only=True)["state_dict"].items()}
    assert not torch.equal(rank0["loftr_coarse.layers.0.q_proj.weight"], start["loftr_coarse.layers.0.q_proj.weight"])


@pytest.mark.slow
def test_torchrun_with_one_process_joins_a_process_group(files, tmp_path):
    """`torchrun --nproc_per_node 1` (one GPU) still trains through the process group and DDP (NCCL on CUDA, gloo
    here): the backend the users' launcher asks for is exercised even on one device."""
    data, weights = files
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m", "vreg_cli",
           "train", "--data", str(data), "--weights", str(weights), "--out", str(tmp_path / "one"), "--max-steps",
           "1", "--batch-size", "1", "--workers", "0", "--val-items", "1", "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 process(es), gloo" in " ".join(proc.stderr.split())
    assert read_checkpoint(tmp_path / "one" / "last.ckpt")["step"] == 1


@pytest.mark.slow
def test_end_to_end_training_beats_untrained_model(tmp_path):
    """80 steps on one synthetic eye (128 px, small affines): validation on new affines of that eye.

    An overfitting sanity check of the whole pipeline (supervision direction, loss, optimiser, schedule): the
    untrained (random, MINIMA-format) model predicts no confident coarse match; the trained one predicts matches
    that are mostly correct. Seeded, so the outcome does not depend on the machine's speed.
    """
    from vreg_cli.training.build import make_datasets, make_val_loader
    from vreg_cli.training.distributed import DistInfo
    from vreg_cli.training.validation import validate

    data = write_synth_h5(tmp_path / "eye.h5", n=6, size=128, n_val=2, eyes=1)
    weights = write_minima_file(tmp_path / "minima.ckpt", seed=0)
    aug = AugmentConfig(max_rotation=5, scale_range=(0.95, 1.05), max_translation=0.03)
    cfg = TrainConfig(
        data=str(data), out=str(tmp_path / "e2e"), weights=str(weights), max_steps=80, batch_size=1, lr=4e-3,
        pairs=("cf-fa",), augment=aug, workers=0, val_every=80, ckpt_every=80, val_max_items=None,
    )  # fmt: skip
    before_model = load_model(weights)
    _, val_set = make_datasets(cfg, DistInfo())
    loader = make_val_loader(val_set, cfg, torch.device("cpu"))
    before = validate(before_model, loader, torch.device("cpu"), max_items=None)
    after = train(cfg).val
    for key in ("val_precision", "val_top1", "val_matches"):
        print(f"{key}: {before[key]:.3f} -> {after[key]:.3f}")
    assert after["val_matches"] >= 5
    assert after["val_precision"] >= before["val_precision"] + 0.5
    assert after["val_top1"] >= before["val_top1"] + 0.2
    # success is reported per benchmark bin; with |rotation| <= 5 every pair lies in bin 0
    bins = CaseConfig().bins
    assert [k for k in after if k.startswith("val_success_rot")] == [f"val_success_rot{b}" for b in bins]
    assert after["val_success_rot0"] == after["val_success"]
    assert all(math.isnan(after[f"val_success_rot{b}"]) for b in bins if b)


def test_validation_judges_pairs_as_the_benchmark():
    from vreg_cli.training.validation import rotation_bin

    # each |rotation| counts in the nearest benchmark bin (0, 15, 30, 45, 60, 90, 135, 180); ties go down
    angles = (0.0, 7.4, -7.5, 7.6, 52.0, 53.0, -112.5, 113.0, 170.0, -180.0, 190.0)
    assert [rotation_bin(a) for a in angles] == [0, 0, 0, 15, 45, 60, 90, 135, 180, 180, 180]
    # one success definition: median <= 10 and max <= 30 (long-side-640 px); a failed fit (None) never succeeds
    t = Thresholds()
    assert t.succeeded(np.array([1.0, 9.0, 10.0, 30.0]))
    assert not t.succeeded(np.array([1.0, 2.0, 31.0])) and not t.succeeded(np.array([11.0, 11.0, 1.0]))
    assert not t.succeeded(None) and not t.succeeded(np.array([1.0, np.inf]))
    assert case_metrics(np.array([1.0, 2.0, 31.0]), t)["success"] is False


def test_config_of_an_older_run_still_loads(files, tmp_path):
    saved = _cfg(files, tmp_path / "old").to_dict()
    old = {**saved, "success_px": 5.0, "ransac_px": 3.0}  # retired: validation uses the benchmark's definitions
    assert TrainConfig.from_dict(old).to_dict() == saved
    with pytest.raises(VregError, match="unknown training config keys: sucess_px"):
        TrainConfig.from_dict({**saved, "sucess_px": 5.0})
