"""What a vreg HDF5 file holds, as plain data for `vreg info` (and anyone else who wants a summary)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from vreg_cli.data.h5 import SPLITS, VregH5
from vreg_cli.errors import VregError

__all__ = ["describe_h5"]


def describe_h5(path: str | os.PathLike) -> dict:
    """Summary of a vreg HDF5 file: samples, split counts, size, modalities, masks, storage, attributes.

    Raises VregError (one line) for a missing file, a non-HDF5 file or an HDF5 file that is not vreg's.
    """
    path = Path(path)
    if path.is_file() and not h5py.is_hdf5(path):
        raise VregError(f"{path}: not an HDF5 file; make one with `vreg prepare`")
    data = VregH5(path)
    try:
        f = data.file
        cf = f["images"]["cf"]
        return {
            "path": str(path),
            "file_mb": path.stat().st_size / 2**20,
            "samples": len(data),
            "splits": {s: int((data.splits == s).sum()) for s in SPLITS},
            "size": data.size,
            "modalities": data.modalities,
            "masks": list(f["masks"].keys()),
            "chunks": cf.chunks,
            "compression": f"{cf.compression} {cf.compression_opts}" if cf.compression else "none",
            "attrs": data.attrs,
            "example_ids": data.ids[:5],
        }
    except KeyError as exc:
        raise VregError(f"{path}: incomplete vreg HDF5 file (missing {exc})") from None
    finally:
        data.close()
