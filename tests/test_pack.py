"""`pack` (vreg prepare): HDF5 round trip, resizing, splits, every validation error, atomic write."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from vreg_cli.data import pack as pack_module
from vreg_cli.data.h5 import VregH5
from vreg_cli.data.pack import pack
from vreg_cli.data.samples import BadSample
from vreg_cli.data.splits import assign_splits
from vreg_cli.data.synth import write_synth_dataset
from vreg_cli.errors import VregError
from vreg_cli.io import read_image, read_mask

N, SIZE = 5, 48


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth")
    return {lay: (write_synth_dataset(root / lay, N, layout=lay, size=SIZE, seed=2), root / lay)[1]
            for lay in ("fives-generated", "flat")}  # fmt: skip


@pytest.fixture
def fives(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine["fives-generated"], tmp_path / "src"))


@pytest.fixture
def flat(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine["flat"], tmp_path / "src"))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".tmp" or ".tmp" in p.name)


def test_round_trip_fives(fives: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    result = pack(fives, out, layout="fives-generated", split=(0.6, 0.2, 0.2), seed=3)
    assert result.n == N and result.size == (SIZE, SIZE) and result.skipped == []
    assert result.split_counts == {"train": 3, "val": 1, "test": 1}
    d = VregH5(out)
    assert d.ids == ["1_A", "2_D", "3_G", "4_N", "5_A"]
    assert d.modalities == ["cf", "fa", "oct", "octa"] and d.size == (SIZE, SIZE)
    assert d.attrs["layout"] == "fives-generated" and d.attrs["seed"] == 3 and d.attrs["schema_version"] == 1
    assert d.attrs["modalities"] == ["cf", "fa", "oct", "octa"] and d.attrs["skipped"] == 0
    assert np.array_equal(d.image(1, "cf"), read_image(fives / "2_D/2_D_cf.png"))
    assert np.array_equal(d.image(1, "fa"), read_image(fives / "2_D/2_D_fa_gen.png", "gray"))
    assert np.array_equal(d.image(4, "octa"), read_image(fives / "5_A/5_A_octa_gen.png", "gray"))
    assert np.array_equal(d.mask(2, "vessel"), read_mask(fives / "3_G/3_G_seg.png"))
    fov = d.mask(0, "fov")  # derived from CF: the synthetic FOV is a centred disc
    assert fov[SIZE // 2, SIZE // 2] and not fov[0, 0] and 0.5 < fov.mean() < 0.8
    f = d.file
    assert f["images/cf"].chunks == (1, SIZE, SIZE, 3) and f["masks/vessel"].chunks == (1, SIZE, SIZE)
    assert f["images/fa"].compression == "gzip" and f["images/fa"].dtype == np.uint8
    assert f["provenance/fa"][1].decode() == "2_D/2_D_fa_gen.png"
    assert f["provenance/fov"][0].decode() == "derived:cf"
    assert f["source_size"][0].tolist() == [SIZE, SIZE]
    assert list(d.indices("val")) == [i for i in range(N) if d.splits[i] == "val"]
    d.close()


def test_flat_layout_uses_given_fov_and_resizes(flat: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    pack(flat, out, layout="flat", size=32)
    d = VregH5(out)
    assert d.ids[0] == "synth_0001" and d.size == (32, 32)
    assert d.image(0, "cf").shape == (32, 32, 3) and d.image(0, "oct").shape == (32, 32)
    raw = d.file["masks/vessel"][0]
    assert set(np.unique(raw)) == {0, 1}  # binarised after nearest resizing
    fov_src = cv2.resize(read_mask(flat / "fov/synth_0001.png").astype(np.uint8), (32, 32),
                         interpolation=cv2.INTER_NEAREST_EXACT)  # fmt: skip
    assert np.array_equal(d.mask(0, "fov"), fov_src.astype(bool))
    assert d.file["provenance/fov"][0].decode() == "fov/synth_0001.png"


def test_sizes_differ_between_samples_needs_size(fives: Path, tmp_path: Path) -> None:
    for name in ("cf", "fa_gen", "oct_gen", "octa_gen", "seg"):
        p = fives / "4_N" / f"4_N_{name}.png"
        cv2.imwrite(str(p), cv2.resize(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), (60, 60)))
    with pytest.raises(VregError, match="different sizes.*--size"):
        pack(fives, tmp_path / "d.h5", layout="fives-generated")
    assert not (tmp_path / "d.h5").exists()
    result = pack(fives, tmp_path / "d.h5", layout="fives-generated", size=40)
    assert result.n == N and VregH5(tmp_path / "d.h5").file["source_size"][3].tolist() == [60, 60]


def corrupt(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:60])  # valid header, broken data


def shrink(path: Path) -> None:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), img[:40, :40])


def blank(path: Path) -> None:
    cv2.imwrite(str(path), np.zeros((SIZE, SIZE), np.uint8))


@pytest.mark.parametrize(
    ("rel", "damage", "message"),
    [
        ("3_G/3_G_fa_gen.png", corrupt, "not a readable image"),
        ("3_G/3_G_oct_gen.png", truncate, "not a readable image"),
        ("3_G/3_G_fa_gen.png", shrink, "size 40x40 differs from 3_G_cf.png"),
        ("3_G/3_G_seg.png", blank, "vessel mask is empty"),
        ("3_G/3_G_oct_gen.png", Path.unlink, "missing oct for sample 3_G"),
        ("3_G/3_G_cf.png", corrupt, "corrupt"),
    ],
)
def test_bad_sample_stops_and_names_the_file(fives, tmp_path, rel, damage, message) -> None:
    damage(fives / rel)
    out = tmp_path / "d.h5"
    with pytest.raises(BadSample, match=message) as info:
        pack(fives, out, layout="fives-generated")
    assert str(info.value).startswith(str(fives / rel))
    assert info.value.exit_code == 2
    assert not out.exists() and leftovers(tmp_path) == []


def test_skip_bad_lists_every_bad_sample(fives: Path, tmp_path: Path) -> None:
    corrupt(fives / "2_D/2_D_fa_gen.png")
    blank(fives / "4_N/4_N_seg.png")
    (fives / "5_A/5_A_oct_gen.png").unlink()
    result = pack(fives, tmp_path / "d.h5", layout="fives-generated", skip_bad=True)
    assert result.n == 2 and len(result.skipped) == 3
    assert any("5_A_oct_gen.png" in s for s in result.skipped)
    assert any("2_D_fa_gen.png" in s for s in result.skipped)
    assert any("4_N_seg.png" in s and "empty" in s for s in result.skipped)
    d = VregH5(tmp_path / "d.h5")
    assert d.ids == ["1_A", "3_G"] and d.file["images/cf"].shape[0] == 2 and d.attrs["skipped"] == 3


def test_all_bad_with_skip_bad_is_an_error(fives: Path, tmp_path: Path) -> None:
    for k, sid in enumerate(["1_A", "2_D", "3_G", "4_N", "5_A"]):
        corrupt(fives / sid / f"{sid}_{'cf' if k % 2 else 'seg'}.png")
    with pytest.raises(VregError, match="no valid samples"):
        pack(fives, tmp_path / "d.h5", layout="fives-generated", skip_bad=True)
    assert not (tmp_path / "d.h5").exists()


def test_partial_optional_modality_is_dropped(fives: Path, tmp_path: Path) -> None:
    (fives / "2_D/2_D_octa_gen.png").unlink()
    result = pack(fives, tmp_path / "d.h5", layout="fives-generated")
    assert result.modalities == ["cf", "fa", "oct"] and "octa" not in VregH5(tmp_path / "d.h5").modalities


def test_empty_source_and_unknown_layout(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(VregError, match="no samples found"):
        pack(tmp_path / "empty", tmp_path / "d.h5", layout="fives-generated")
    with pytest.raises(VregError, match="unknown triplets layout"):
        pack(tmp_path / "empty", tmp_path / "d.h5", layout="nope")
    assert not (tmp_path / "d.h5").exists()


def test_failure_mid_write_leaves_no_target(fives: Path, tmp_path: Path, monkeypatch) -> None:
    calls = []
    real_write = pack_module.write_sample

    def failing(f, k, chunks) -> None:
        calls.append(k)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real_write(f, k, chunks)

    monkeypatch.setattr(pack_module, "write_sample", failing)
    out = tmp_path / "d.h5"
    with pytest.raises(RuntimeError, match="disk full"):
        pack(fives, out, layout="fives-generated")
    assert calls == [0, 1] and not out.exists() and leftovers(tmp_path) == []


def test_existing_target_needs_force(fives: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    out.write_bytes(b"old")
    with pytest.raises(VregError, match="--force"):
        pack(fives, out, layout="fives-generated")
    assert out.read_bytes() == b"old"
    corrupt(fives / "1_A/1_A_seg.png")
    with pytest.raises(BadSample):
        pack(fives, out, layout="fives-generated", force=True)
    assert out.read_bytes() == b"old"  # a failed forced run keeps the old file
    pack(fives, out, layout="fives-generated", force=True, skip_bad=True)
    assert h5py.is_hdf5(out)


def test_split_is_deterministic_and_follows_fractions() -> None:
    ids = [f"s{k}" for k in range(50)]
    a = assign_splits(ids, (0.8, 0.1, 0.1), seed=0)
    assert a == assign_splits(ids, (0.8, 0.1, 0.1), seed=0)
    assert a != assign_splits(ids, (0.8, 0.1, 0.1), seed=1)
    assert (a.count("train"), a.count("val"), a.count("test")) == (40, 5, 5)


@pytest.mark.parametrize("bad", ["0.8,0.1", "0.5,0.5,0.5", "a,b,c", "-0.1,0.6,0.5"])
def test_bad_split_fractions(fives: Path, tmp_path: Path, bad: str) -> None:
    with pytest.raises(VregError, match="--split"):
        pack(fives, tmp_path / "d.h5", layout="fives-generated", split=bad)


def test_split_file(fives: Path, tmp_path: Path) -> None:
    sf = tmp_path / "splits.csv"
    sf.write_text("id,split\n1_A,test\n2_D,train\n3_G,val\n4_N,train\n5_A,train\n99_X,val\n")
    pack(fives, tmp_path / "d.h5", layout="fives-generated", split_file=sf)
    d = VregH5(tmp_path / "d.h5")
    assert list(d.splits) == ["test", "train", "val", "train", "train"] and d.attrs["split_file"] == str(sf)
    sf.write_text("id,split\n1_A,test\n")
    with pytest.raises(VregError, match="does not list 2_D"):
        pack(fives, tmp_path / "e.h5", layout="fives-generated", split_file=sf)
    sf.write_text("id,split\n1_A,holdout\n")
    with pytest.raises(VregError, match="splits.csv:2: split 'holdout'"):
        pack(fives, tmp_path / "e.h5", layout="fives-generated", split_file=sf)
    sf.write_text("name,fold\n1_A,test\n")
    with pytest.raises(VregError, match="header 'id,split'"):
        pack(fives, tmp_path / "e.h5", layout="fives-generated", split_file=sf)


def test_output_does_not_depend_on_thread_count(fives: Path, tmp_path: Path) -> None:
    pack(fives, tmp_path / "one.h5", layout="fives-generated", workers=1)
    pack(fives, tmp_path / "three.h5", layout="fives-generated", workers=3)
    a, b = VregH5(tmp_path / "one.h5"), VregH5(tmp_path / "three.h5")
    assert a.ids == b.ids and list(a.splits) == list(b.splits)
    for i in range(N):
        for m in a.modalities:
            assert np.array_equal(a.image(i, m), b.image(i, m))
        assert np.array_equal(a.mask(i, "fov"), b.mask(i, "fov"))
