"""HDF5 files that declare huge data or point elsewhere (#46): refused with one line when opened, before any read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from train_helpers import write_synth_h5
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.data.h5 import VregH5
from vreg_cli.errors import VregError
from vreg_cli.training.build import train_size
from vreg_cli.training.config import TrainConfig


def _external(f: h5py.File, tmp: Path) -> None:
    other = tmp / "other.h5"
    with h5py.File(other, "w") as g:
        g["x"] = np.zeros(3)
    f["images/extra"] = h5py.ExternalLink(str(other), "/x")


def _soft_loop(f: h5py.File, tmp: Path) -> None:
    f["masks/loop"] = h5py.SoftLink("/masks/loop")


def _huge_size(f: h5py.File, tmp: Path) -> None:
    f.attrs["size"] = [20_000, 20_000]


def _billion_ids(f: h5py.File, tmp: Path) -> None:
    del f["ids"]
    f.create_dataset("ids", shape=(10**9,), dtype=h5py.string_dtype(), chunks=(1024,))  # nothing written: 10^9 fills


def _float_images(f: h5py.File, tmp: Path) -> None:
    data = f["images/fa"][()].astype(np.float32)
    data[0, 0, 0] = np.nan
    del f["images/fa"]
    f["images/fa"] = data


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_external, ("/images/extra links to another file",)),
        (_soft_loop, ("/masks/loop is a soft link",)),
        (_huge_size, ("20000x20000 px is larger than the 64,000,000 pixel limit",)),
        (_billion_ids, ("declares 1,000,000,000 samples, over the limit of 1,000,000",)),
        (_float_images, ("/images/fa is float32, the schema's is uint8",)),
    ],
)
def test_a_hostile_h5_is_refused_when_opened(
    tmp_path: Path, damage: Callable[[h5py.File, Path], None], words: tuple[str, ...]
) -> None:
    path = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    with h5py.File(path, "a") as f:
        damage(f, tmp_path)
    assert path.stat().st_size < 10 << 20
    with pytest.raises(VregError) as info:
        VregH5(path)
    assert "\n" not in str(info.value) and all(w in str(info.value) for w in words), str(info.value)
    result = CliRunner().invoke(app, ["info", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_training_at_a_files_own_size_stays_within_image_size(tmp_path: Path) -> None:
    path = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    assert train_size(TrainConfig(data=str(path), out=str(tmp_path / "r"), max_steps=1)) == 64
    with h5py.File(path, "a") as f:  # a file of 4096 px images (declared; within the 64 MP image limit)
        for name in [f"images/{m}" for m in f["images"]] + [f"masks/{m}" for m in f["masks"]]:
            shape = (3, 4096, 4096, 3) if name == "images/cf" else (3, 4096, 4096)
            del f[name]
            f.create_dataset(name, shape=shape, dtype=np.uint8, chunks=(1, 64, 64, *shape[3:]))
        f.attrs["size"] = [4096, 4096]
    with pytest.raises(VregError, match=r"its images are 4096 px; train at --image-size N \(at most 2048\)"):
        train_size(TrainConfig(data=str(path), out=str(tmp_path / "r"), max_steps=1))
    assert train_size(TrainConfig(data=str(path), out=str(tmp_path / "r"), max_steps=1, image_size=512)) == 512
