"""Synthetic triplets: shapes, alignment, modality appearance, determinism, data sets in both layouts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from vreg_cli.data.layouts import load_layout
from vreg_cli.data.synth import make_triplet, write_synth_dataset
from vreg_cli.errors import VregError
from vreg_cli.io import read_image


@pytest.mark.parametrize("vessels", ["procedural", "drive"])
def test_make_triplet_shapes_and_types(vessels: str) -> None:
    t = make_triplet(3, size=96, vessels=vessels)
    assert set(t) == {"cf", "fa", "oct", "octa", "vessel", "fov"}
    assert t["cf"].shape == (96, 96, 3) and t["cf"].dtype == np.uint8
    for key in ("fa", "oct", "octa"):
        assert t[key].shape == (96, 96) and t[key].dtype == np.uint8
    for key in ("vessel", "fov"):
        assert t[key].shape == (96, 96) and t[key].dtype == bool
    assert 0.02 < t["vessel"].mean() < 0.35
    assert 0.5 < t["fov"].mean() < 0.8
    assert not (t["vessel"] & ~t["fov"]).any()  # vessels only inside the field of view
    far = ~ndimage.binary_dilation(t["fov"], iterations=2)  # the FOV edge itself is anti-aliased
    assert t["cf"][far].max() < 20  # dark camera border


@pytest.mark.parametrize("vessels", ["procedural", "drive"])
def test_modalities_show_the_shared_vessels(vessels: str) -> None:
    """Vessels are dark in CF (green) and OCT, bright in FA and OCTA, at the same pixels."""
    t = make_triplet(5, size=128, vessels=vessels)
    inside = t["fov"] & ~t["vessel"]
    vessel = t["vessel"]
    green = t["cf"][..., 1].astype(float)
    assert green[vessel].mean() < green[inside].mean() - 5
    assert t["oct"][vessel].mean() < t["oct"][inside].mean() - 5
    assert t["fa"][vessel].mean() > t["fa"][inside].mean() + 20
    assert t["octa"][vessel].mean() > t["octa"][inside].mean() + 40
    red = t["cf"][..., 0][inside].mean()
    assert red > green[inside].mean() + 30  # orange-red fundus


def test_make_triplet_is_deterministic() -> None:
    a, b, c = make_triplet(11, 64), make_triplet(11, 64), make_triplet(12, 64)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert not np.array_equal(a["cf"], c["cf"])
    g1, g2 = make_triplet(np.random.default_rng(4), 64), make_triplet(np.random.default_rng(4), 64)
    assert np.array_equal(g1["fa"], g2["fa"])


def test_make_triplet_rejects_bad_arguments() -> None:
    with pytest.raises(VregError, match="vessel source"):
        make_triplet(0, 64, vessels="fancy")
    with pytest.raises(VregError, match="size"):
        make_triplet(0, 8)


@pytest.mark.parametrize("layout", ["fives-generated", "flat"])
def test_write_synth_dataset_matches_layout_and_is_deterministic(tmp_path, layout: str) -> None:
    ids = write_synth_dataset(tmp_path / "a", 3, layout=layout, size=48, seed=1)
    write_synth_dataset(tmp_path / "b", 3, layout=layout, size=48, seed=1)
    spec = load_layout(layout)
    found = spec.find_samples(tmp_path / "a")
    assert [s.id for s in found] == ids
    assert all(not s.missing and {"cf", "fa", "oct", "octa", "vessel"} <= set(s.files) for s in found)
    for rel in spec.output_paths(ids[0], 48).values():
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    cf = read_image(tmp_path / "a" / spec.output_paths(ids[0], 48)["cf"])
    assert cf.shape == (48, 48, 3)
    direct = make_triplet(np.random.default_rng([1, 0]), 48)
    assert np.array_equal(cf, direct["cf"])


def test_synth_ids_follow_the_layouts() -> None:
    assert [load_layout("fives-generated").synth_sample_id(k) for k in range(5)] == ["1_A", "2_D", "3_G", "4_N", "5_A"]
    assert load_layout("flat").synth_sample_id(0) == "synth_0001"
