"""The vreg HDF5 file: schema constants and a reader that is safe in DataLoader workers.

Schema (version 1), documented for users in ``data_specs/hdf5_schema.md``:

- ``/ids``               (N,) variable-length UTF-8 sample ids
- ``/split``             (N,) variable-length UTF-8, each "train" | "val" | "test"
- ``/images/cf``         (N, H, W, 3) uint8 RGB
- ``/images/<mod>``      (N, H, W) uint8 grey, for mod in fa, oct (required) and octa (optional)
- ``/masks/vessel``      (N, H, W) uint8 in {0, 1}, the vessel mask shared by all modalities
- ``/masks/fov``         (N, H, W) uint8 in {0, 1}, the field of view (derived from CF when not given)
- ``/provenance/<name>`` (N,) UTF-8 source file of each image or mask, relative to the source root
  (``derived:cf`` for a field of view computed from the CF image)
- ``/source_size``       (N, 2) int32 original [H, W] of each sample before resizing
- image and mask datasets are chunked one sample per chunk and compressed (``COMPRESSION``)
- root attributes: ``format`` = "vreg", ``schema_version`` = 1, ``layout``, ``layout_spec``, ``source``,
  ``size`` = [H, W], ``seed``, ``split_fractions``, ``split_file`` ("" when none), ``modalities`` (list),
  ``skipped`` (number of bad samples skipped), ``vreg_version``, ``created`` (ISO 8601 UTC)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import h5py
import numpy as np

from vreg_cli.errors import VregError
from vreg_cli.limits import MAX_H5_SAMPLES, check_image_size

__all__ = ["SPLITS", "VregH5"]


FORMAT = "vreg"
SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test")
REQUIRED_MODALITIES = ("cf", "fa", "oct")
OPTIONAL_MODALITIES = ("octa",)
MASKS = ("vessel", "fov")
# gzip level 1: nearly the ratio of level 4 on these images at a fraction of the cost (bench-data measures it);
# uint8 data gains nothing from the shuffle filter.
COMPRESSION: dict = {"compression": "gzip", "compression_opts": 1}


def _refuse_links(f: h5py.File, where: Path) -> None:
    """VregError for a soft or external link anywhere in the file: vreg files hold their data themselves (an
    external link reads another file; a soft-link loop sends a reader round in circles)."""

    def check(name: str, link: h5py.HardLink | h5py.SoftLink | h5py.ExternalLink) -> str | None:
        """Why this link is refused (returning it ends the visit: h5py's callbacks must not raise)."""
        if isinstance(link, h5py.ExternalLink):
            return f"/{name} links to another file ({link.filename}); vreg files hold their data"
        if isinstance(link, h5py.SoftLink):
            return f"/{name} is a soft link ({link.path}); vreg files hold their data"
        return None

    try:
        why = f.visititems_links(check)
    except (OSError, RuntimeError, KeyError) as exc:
        raise VregError(f"{where}: damaged vreg HDF5 file ({exc})") from None
    if why is not None:
        raise VregError(f"{where}: {why}")


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


class VregH5:
    """Read access to a vreg HDF5 file.

    The h5py handle is opened lazily and reopened after a fork (one handle per DataLoader worker process),
    because HDF5 handles must not be shared across processes.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VregError(f"{self.path}: no such file")
        self._file: h5py.File | None = None
        self._pid = -1
        f = self.file
        if f.attrs.get("format") != FORMAT:
            raise VregError(
                f"{self.path}: not a vreg HDF5 file (no format='vreg' attribute); make one with `vreg prepare`"
            )
        try:
            version = int(f.attrs.get("schema_version", -1))
        except (TypeError, ValueError):
            version = -1
        if version != SCHEMA_VERSION:
            raise VregError(f"{self.path}: schema version {version}, this vreg reads version {SCHEMA_VERSION}")
        try:
            self._check_layout(f)
            self.ids: list[str] = _text(f["ids"][()])
            self.splits: np.ndarray = np.array(_text(f["split"][()]))
            self.modalities: list[str] = [m for m in f["images"].keys()]
            self.size: tuple[int, int] = cast(tuple[int, int], tuple(int(v) for v in f.attrs["size"]))  # (H, W)
            self.attrs: dict = {
                k: (v.tolist() if isinstance(v, np.ndarray) else v.item() if isinstance(v, np.generic) else v)
                for k, v in f.attrs.items()
            }
        except VregError:
            raise
        except (KeyError, OSError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise VregError(f"{self.path}: damaged vreg HDF5 file ({exc})") from None
        bad = sorted(set(self.splits.tolist()) - set(SPLITS))
        if bad:
            raise VregError(f"{self.path}: /split holds {bad[0]!r}; expected one of {', '.join(SPLITS)}")

    def _check_layout(self, f: h5py.File) -> None:
        """Every dataset of the schema is present with N samples of the file's size (VregError naming the first
        that is not), so that training or a benchmark never fails on a damaged file after it started.
        """
        where = self.path
        _refuse_links(f, where)
        size = np.asarray(f.attrs.get("size", ()))
        if size.shape != (2,) or size.dtype.kind not in "iu":
            raise VregError(f"{where}: damaged vreg HDF5 file (root attribute 'size' must be [H, W])")
        h, w = (int(v) for v in size)
        if h < 1 or w < 1:
            raise VregError(f"{where}: damaged vreg HDF5 file (size {w}x{h})")
        check_image_size(where, w, h)  # the declared size, before any image is read
        for name in ("ids", "split", "images", "masks"):
            if name not in f:
                raise VregError(f"{where}: damaged vreg HDF5 file (no /{name})")
        n = f["ids"].shape[0] if f["ids"].ndim == 1 else -1
        expected = {"split": (n,), "masks/vessel": (n, h, w), "masks/fov": (n, h, w), "images/cf": (n, h, w, 3)}
        expected.update({f"images/{m}": (n, h, w) for m in REQUIRED_MODALITIES[1:]})
        expected.update({f"images/{m}": (n, h, w) for m in f["images"] if m not in REQUIRED_MODALITIES})
        if n < 0:
            raise VregError(f"{where}: damaged vreg HDF5 file (/ids is not one-dimensional)")
        if n > MAX_H5_SAMPLES:
            raise VregError(
                f"{where}: declares {n:,} samples, over the limit of {MAX_H5_SAMPLES:,} "
                "(vreg_cli.limits.MAX_H5_SAMPLES)"
            )
        for name, shape in expected.items():
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise VregError(f"{where}: damaged vreg HDF5 file (no /{name})")
            if f[name].shape != shape:
                raise VregError(
                    f"{where}: damaged vreg HDF5 file (/{name} has shape {f[name].shape}, expected {shape} "
                    f"for {n} samples of {w}x{h})"
                )
            if name.startswith(("images/", "masks/")) and f[name].dtype != np.uint8:
                raise VregError(f"{where}: damaged vreg HDF5 file (/{name} is {f[name].dtype}, the schema's is uint8)")

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as exc:
                raise VregError(f"{self.path}: not a readable HDF5 file ({exc})") from None
            self._pid = os.getpid()
        return self._file

    def __len__(self) -> int:
        return len(self.ids)

    def indices(self, split: str | None = None) -> np.ndarray:
        """Sample indices of one split (all samples when split is None)."""
        if split is None:
            return np.arange(len(self))
        if split not in SPLITS:
            raise VregError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return np.flatnonzero(self.splits == split)

    def image(self, i: int, modality: str) -> np.ndarray:
        """(H, W, 3) for cf, (H, W) for the others, uint8."""
        if modality not in self.modalities:
            raise VregError(f"{self.path}: no modality {modality!r} (has {', '.join(self.modalities)})")
        return self.file["images"][modality][i]

    def mask(self, i: int, name: str = "vessel") -> np.ndarray:
        """(H, W) bool."""
        return self.file["masks"][name][i].astype(bool)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        return state

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
