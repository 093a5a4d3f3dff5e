"""PairDataset: geometry of the random affine, reproducibility, pair mixing, worker safety."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from train_helpers import write_synth_h5

from vreg_cli.data.dataset import AugmentConfig, PairDataset, parse_pairs, random_affine
from vreg_cli.data.h5 import VregH5
from vreg_cli.errors import VregError
from vreg_cli.geometry import decompose_affine, warp_image


@pytest.fixture(scope="module")
def h5_path(tmp_path_factory):
    return write_synth_h5(tmp_path_factory.mktemp("ds") / "d.h5", n=4, size=128, n_val=2)


def test_item_shapes_and_types(h5_path):
    ds = PairDataset(h5_path, "train")
    assert len(ds) == 2 * 2  # two train samples, cf-fa and cf-oct
    item = ds[0]
    assert item["image0"].shape == (1, 128, 128) and item["image0"].dtype == torch.float32
    assert item["image1"].shape == (1, 128, 128)
    assert 0 <= item["image0"].min() and item["image1"].max() <= 1
    for key in ("vessel0", "vessel1", "fov0", "fov1"):
        assert item[key].shape == (128, 128) and item[key].dtype == torch.bool
    assert item["moving_to_fixed"].shape == (3, 3)
    assert [ds[i]["pair"].item() for i in range(4)] == [0, 1, 0, 1]


def test_moving_to_fixed_undoes_the_augmentation(h5_path):
    ds = PairDataset(h5_path, "train", augment=AugmentConfig(max_shear=10, flip_prob=0.5), seed=3)
    h5 = VregH5(h5_path)
    for index in range(len(ds)):
        item = ds[index]
        row, mod = item["sample"].item(), ds.pairs[item["pair"].item()].split("-")[1]
        m = item["moving_to_fixed"].numpy().astype(np.float64)
        back = warp_image(item["image1"][0].numpy(), m, (128, 128))
        raw = h5.image(row, mod).astype(np.float32) / 255
        # compare where the augmented moving image had content (its warped fov maps back inside)
        inside = warp_image(item["fov1"].numpy().astype(np.uint8), m, (128, 128), nearest=True) > 0
        inside &= h5.mask(row, "fov")
        assert inside.sum() > 500
        err = np.abs(back - raw)[inside]
        assert np.median(err) < 0.03, (index, np.median(err))
        # vessel mask follows the image
        v_back = warp_image(item["vessel1"].numpy().astype(np.float32), m, (128, 128)) > 0.5
        v0 = item["vessel0"].numpy()
        assert (v_back & v0)[inside].sum() > 0.6 * v0[inside].sum()


def test_rotation_range_and_default_no_shear_no_flip():
    cfg = AugmentConfig(max_rotation=30)
    rng = np.random.default_rng(0)
    for _ in range(50):
        m, angle = random_affine(rng, cfg, (64, 64))
        parts = decompose_affine(m)
        assert abs(angle) <= 30 and parts.rotation_deg == pytest.approx(angle, abs=1e-6)
        assert not parts.mirrored and abs(parts.shear) < 1e-9 and 0.8 - 1e-9 <= parts.scale <= 1.25 + 1e-9


def test_validation_items_fixed_training_items_change_per_epoch(h5_path):
    val = PairDataset(h5_path, "val", fixed_seed=True, seed=1)
    a = val[1]["moving_to_fixed"]
    val.set_epoch(5)
    assert torch.equal(val[1]["moving_to_fixed"], a)
    assert torch.equal(PairDataset(h5_path, "val", fixed_seed=True, seed=1)[1]["image1"], val[1]["image1"])
    train = PairDataset(h5_path, "train", seed=1)
    b = train[1]["moving_to_fixed"]
    assert torch.equal(train[1]["moving_to_fixed"], b)  # same epoch, same item
    train.set_epoch(1)
    assert not torch.equal(train[1]["moving_to_fixed"], b)


def test_no_photometric_by_default_and_option_changes_pixels(h5_path):
    plain = PairDataset(h5_path, "train", augment=AugmentConfig(max_rotation=0, scale_range=(1, 1), max_translation=0))
    item = plain[0]
    raw = VregH5(h5_path).image(item["sample"].item(), "fa").astype(np.float32) / 255
    assert np.allclose(item["image1"][0].numpy(), raw, atol=1e-6)
    jitter = PairDataset(
        h5_path, "train", augment=AugmentConfig(max_rotation=0, scale_range=(1, 1), max_translation=0, photometric=True)
    )
    assert not np.allclose(jitter[0]["image1"][0].numpy(), raw, atol=1e-3)


def test_pairs_and_errors(h5_path, tmp_path):
    assert parse_pairs("cf-fa, cf-oct") == ("cf-fa", "cf-oct")
    with pytest.raises(VregError, match="unknown pair"):
        parse_pairs("cf-xyz")
    only_oct = PairDataset(h5_path, "val", pairs=("cf-oct",))
    assert len(only_oct) == 2 and only_oct[0]["pair"].item() == 0
    with pytest.raises(VregError, match="empty"):
        PairDataset(h5_path, "test")
    resized = PairDataset(h5_path, "val", image_size=100)
    assert resized[0]["image0"].shape == (1, 96, 96)  # floored to a multiple of 8


def test_dataloader_workers(h5_path):
    ds = PairDataset(h5_path, "train", seed=2)
    single = [b["moving_to_fixed"] for b in DataLoader(ds, batch_size=2, num_workers=0)]
    multi = [b["moving_to_fixed"] for b in DataLoader(ds, batch_size=2, num_workers=2)]
    assert all(torch.equal(x, y) for x, y in zip(single, multi, strict=True))
