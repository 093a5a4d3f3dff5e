"""The LoFTR vreg trains itself: the small preset, the vessel-map input, from-scratch training, the bundled model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import write_synth_h5
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.data.dataset import AugmentConfig, PairDataset
from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import VregError
from vreg_cli.model.checkpoint import checkpoint_payload
from vreg_cli.model.config import LoFTRConfig
from vreg_cli.model.inputs import model_input, vessel_input
from vreg_cli.model.loftr import LoFTRModel, load_model
from vreg_cli.training.build import build_model
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.distributed import DistInfo
from vreg_cli.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_small_preset_is_the_documented_architecture():
    config = LoFTRConfig.for_arch("small", freeze=())
    model = LoFTRModel(config)
    assert sum(p.numel() for p in model.parameters()) == 2_216_896
    assert config.arch == "small" and LoFTRConfig().arch == "minima"
    assert LoFTRConfig.from_dict(config.to_dict()) == config  # survives the checkpoint's model_config
    with pytest.raises(VregError, match="unknown LoFTR arch"):
        LoFTRConfig.for_arch("huge")
    with pytest.raises(VregError, match="input"):
        LoFTRConfig(input="colour")


def test_vessel_input_is_the_same_for_both_polarities():
    # FA has bright vessels, OCT dark ones: the network must see the same map for an image and its negative
    for modality in ("fa", "oct"):
        gray = make_triplet(3, size=256)[modality][40:216, 40:216]  # full frame: no field-of-view surround
        a, b = vessel_input(gray).astype(int), vessel_input(255 - gray).astype(int)
        assert np.abs(a - b).max() <= 1, modality
        assert (a > 50).mean() > 0.05  # and it is not blank
    assert model_input(gray, "gray") is gray


def test_dataset_feeds_vessel_maps_when_the_model_asks(tmp_path):
    data = write_synth_h5(tmp_path / "d.h5", n=3, size=128, n_val=1)
    aug = AugmentConfig(max_rotation=0, scale_range=(1.0, 1.0), max_translation=0.0)
    gray = PairDataset(data, "train", ("cf-fa",), aug)[0]
    vessels = PairDataset(data, "train", ("cf-fa",), aug, input_mode="vessels")[0]
    assert not torch.equal(gray["image0"], vessels["image0"])
    # the same cells light up in the fixed CF map and the pixel-aligned FA map (polarity removed)
    f, m = vessels["image0"][0].numpy(), vessels["image1"][0].numpy()
    assert np.corrcoef(f.ravel(), m.ravel())[0, 1] > 0.5
    vessel = vessels["vessel0"].numpy()
    assert f[vessel].mean() > 2 * f[~vessel].mean() and m[vessel].mean() > 2 * m[~vessel].mean()


def test_from_scratch_refuses_a_frozen_random_backbone(tmp_path):
    data = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    with pytest.raises(VregError, match="randomly initialised backbone"):
        TrainConfig(data=str(data), max_steps=1, freeze="default")
    assert TrainConfig(data=str(data), max_steps=1).freeze == "none"  # from scratch trains everything
    assert TrainConfig(data=str(data), max_steps=1, weights="w.ckpt").freeze == "default"
    result = CliRunner().invoke(
        app, ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--max-steps", "1", "--freeze", "default"]
    )
    assert result.exit_code == 2 and "learns nothing" in result.output
    result = CliRunner().invoke(
        app, ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--max-steps", "1", "--arch", "huge"]
    )
    assert result.exit_code == 2 and "unknown --arch" in result.output


def test_fine_tuning_a_vreg_checkpoint_keeps_its_architecture_and_input(tmp_path):
    data = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    torch.manual_seed(0)
    small = LoFTRModel(LoFTRConfig.for_arch("small", freeze=(), input="vessels", train_size=64))
    torch.save(checkpoint_payload(small), tmp_path / "small.ckpt")
    cfg = TrainConfig(data=str(data), max_steps=1, weights=str(tmp_path / "small.ckpt"))
    model = build_model(cfg, DistInfo())
    assert model.config.arch == "small" and model.config.input == "vessels"
    assert model.frozen == ("backbone", "pos_encoding", "fine_preprocess")  # --freeze default with weights
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), small.state_dict().values(), strict=True))
    with pytest.raises(VregError, match="not --arch minima"):
        build_model(cfg.replace(arch="minima"), DistInfo())
    gray = build_model(cfg.replace(input="gray"), DistInfo())  # the input ablation on the same weights
    assert gray.config.input == "gray"


@pytest.mark.slow
def test_from_scratch_run_saves_what_inference_needs(tmp_path):
    # (Whether the small preset learns from scratch is tested in test_small_loftr_learns.py.)
    data = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    cfg = TrainConfig(
        data=str(data), out=str(tmp_path / "run"), arch="small", input="vessels", max_steps=2, batch_size=1,
        workers=0, val_every=1000, ckpt_every=1000, pairs=("cf-fa",), augment=AugmentConfig(max_rotation=20),
    )  # fmt: skip
    train(cfg)
    saved = load_model(Path(cfg.out) / "last.ckpt")
    assert saved.config.arch == "small" and saved.config.input == "vessels" and saved.config.train_size == 64
    assert saved.config.freeze == ()


@pytest.mark.slow
def test_bundled_checkpoint_loads_strictly_and_registers_the_sample_pair_upright():
    from vreg_cli.geometry import point_errors
    from vreg_cli.io import read_image, read_landmarks
    from vreg_cli.methods import build_method
    from vreg_cli.paths import BUNDLED_LOFTR, SAMPLE_DIR
    from vreg_cli.registration import register_pair

    model = load_model(BUNDLED_LOFTR)  # strict: every tensor present, none unexpected, shapes equal
    assert (model.config.arch, model.config.input, model.config.train_size) == ("small", "vessels", 384)
    assert BUNDLED_LOFTR.stat().st_size < 25 * 2**20
    method = build_method("loftr:prealign=none").method  # no weights: the bundled checkpoint
    assert "bundled" in method.describe()
    fixed, moving = read_image(SAMPLE_DIR / "fixed.png"), read_image(SAMPLE_DIR / "moving.png")
    pts_fixed, pts_moving = read_landmarks(SAMPLE_DIR / "landmarks.csv")
    reg = register_pair(fixed, moving, method)
    assert reg.info.strategy == "direct"
    assert float(np.median(point_errors(reg.matrix, pts_moving, pts_fixed))) < 10.0
