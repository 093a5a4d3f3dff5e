"""Test helpers for the training tests: a tiny vreg HDF5 of synthetic triplets and a MINIMA-format file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from vreg_cli.data.synth import make_triplet


def write_synth_h5(
    path: Path, n: int = 6, size: int = 128, seed: int = 0, n_val: int = 2, eyes: int | None = None
) -> Path:
    """n samples: the last n_val are "val", the rest "train". Returns path.

    ``eyes``: number of distinct synthetic eyes, repeated cyclically (e.g. 1 = every sample is the same eye, so
    validation measures fitting the training eye under new affines, an overfitting sanity check).
    """
    samples = [make_triplet(seed + (k % eyes if eyes else k), size) for k in range(n)]
    split = ["train"] * (n - n_val) + ["val"] * n_val
    text = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "vreg", "schema_version": 1, "layout": "test", "size": [size, size]})
        f.attrs["modalities"] = ["cf", "fa", "oct", "octa"]
        f.create_dataset("ids", data=np.array([f"s{k}" for k in range(n)], dtype=object), dtype=text)
        f.create_dataset("split", data=np.array(split, dtype=object), dtype=text)
        for mod in ("cf", "fa", "oct", "octa"):
            f.create_dataset(f"images/{mod}", data=np.stack([s[mod] for s in samples]))
        for mask in ("vessel", "fov"):
            f.create_dataset(f"masks/{mask}", data=np.stack([s[mask] for s in samples]).astype(np.uint8))
    return path


def write_minima_file(path: Path, seed: int = 0) -> Path:
    """A weights file in MINIMA's release format (Lightning dict, ``matcher.`` keys), random init with ``seed``."""
    import torch

    from vreg_cli.model.loftr import LoFTRModel

    torch.manual_seed(seed)
    state = {f"matcher.{k}": v for k, v in LoFTRModel().state_dict().items()}
    torch.save({"epoch": 0, "global_step": 0, "state_dict": state}, path)
    return path
