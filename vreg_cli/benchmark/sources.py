"""Where benchmark cases come from: a prepared HDF5 file (synthetic ground truth) or a folder of real annotated pairs.

Both sources are picklable (worker processes get a copy) and open files lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from vreg_cli.benchmark.cases import (
    CaseConfig,
    CaseData,
    CaseSpec,
    carry_points,
    draw_case,
    in_view,
    present_moving,
)
from vreg_cli.benchmark.config import SourceConfig
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import VregError
from vreg_cli.geometry import grid_points
from vreg_cli.io import read_image

__all__ = ["H5Source", "PairsSource", "vessel_bifurcations"]


_MAX_BIFURCATIONS = 64


def vessel_bifurcations(
    vessel: np.ndarray, keep: np.ndarray | None = None, limit: int = _MAX_BIFURCATIONS
) -> np.ndarray:
    """Branch points of a vessel mask (H, W) bool -> (K, 2) (x, y), K <= limit, optionally only where ``keep``.

    Skeleton pixels with three or more skeleton neighbours, merged per connected cluster (their centroid).
    """
    from skimage.morphology import skeletonize

    skel = skeletonize(vessel.astype(bool))
    neighbours = ndimage.convolve(skel.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - 1
    branch = skel & (neighbours >= 3)
    labels, n = ndimage.label(branch, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros((0, 2))
    centres = np.asarray(ndimage.center_of_mass(branch, labels, range(1, n + 1)), np.float64)[:, ::-1]
    if keep is not None:
        ij = np.round(centres).astype(int)
        centres = centres[keep[ij[:, 1], ij[:, 0]]]
    if len(centres) > limit:
        # Deterministic, spatially even subsample: every k-th point in raster order.
        order = np.lexsort((centres[:, 0], centres[:, 1]))
        centres = centres[order[np.linspace(0, len(order) - 1, limit).round().astype(int)]]
    return centres


class H5Source:
    """Cases from a vreg HDF5 file: fixed CF vs a moving modality warped by the case transform.

    Error points: a regular grid inside the field of view (about 16 per side) plus vessel bifurcations.
    """

    kind = "hdf5"

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = SourceConfig.split,
        pairs: tuple[str, ...] = SourceConfig.modality_pairs,
    ) -> None:
        from vreg_cli.data.h5 import VregH5

        self.h5 = VregH5(path)
        self.split = split
        self.indices = [int(i) for i in self.h5.indices(split)]
        if not self.indices:
            raise VregError(f"{path}: split {split!r} is empty")
        self.pairs = tuple(pairs)
        self._last: tuple[int, np.ndarray, np.ndarray] | None = None
        for p in self.pairs:
            fixed, _, moving = p.partition("-")
            if fixed != "cf" or moving not in self.h5.modalities or moving == "cf":
                raise VregError(
                    f"--modalities {p!r}: expected cf-<modality> with a modality of {path} ({self.h5.modalities})"
                )

    def describe(self) -> str:
        return (
            f"HDF5 {self.h5.path.name}, split {self.split}, {len(self.indices)} samples, pairs {','.join(self.pairs)}"
        )

    def case_specs(self, config: CaseConfig) -> list[CaseSpec]:
        specs: list[CaseSpec] = []
        for i in self.indices:
            # smallfov windows must keep enough error points in view: check them on the field-of-view grid
            points = self._grid(i, self.h5.mask(i, "fov")) if config.protocol != "standard" else None
            for p in self.pairs:
                specs.extend(draw_case(config, self.h5.ids[i], p, i, b, self.h5.size, points) for b in config.bins)
        return specs

    def _grid(self, i: int, fov: np.ndarray) -> np.ndarray:
        """Regular grid of error points (about 16 per side) inside the field of view of sample i (all if none)."""
        h, w = fov.shape[:2]
        return grid_points((h, w), max(4, min(h, w) // 16), fov if fov.any() else None)

    def _fixed_and_points(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """CF image and error points of sample i; kept for the next case, since cases come sample by sample
        (every bin and modality of one sample in a row) and skeletonising the vessel mask is not free."""
        if self._last is None or self._last[0] != i:
            fixed = self.h5.image(i, "cf")
            fov = self.h5.mask(i, "fov")
            bifurcations = vessel_bifurcations(self.h5.mask(i, "vessel"), fov if fov.any() else None)
            pts = np.vstack([self._grid(i, fov), bifurcations])
            self._last = (i, _read_only(fixed), _read_only(pts))
        return self._last[1], self._last[2]

    def load(self, spec: CaseSpec) -> CaseData:
        i = spec.index
        fixed, pts = self._fixed_and_points(i)
        original = self.h5.image(i, spec.modality.split("-", 1)[1])
        moving = present_moving(original, spec)
        # The original modality is pixel-aligned with the CF, so fixed points are also original moving points.
        carried = carry_points(spec, pts)
        keep = _points_in_view(spec, carried, moving.shape[:2])
        return CaseData(fixed, moving, pts[keep], carried[keep], np.linalg.inv(spec.transform))


def _points_in_view(spec: CaseSpec, carried: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(N,) bool: which error points count. smallfov: those in the presented window; standard: all of them."""
    if spec.protocol == "standard":
        return np.ones(len(carried), bool)
    return in_view(carried, hw)


def _read_only(a: np.ndarray) -> np.ndarray:
    """Arrays shared by several cases must not be changed by one of them: writing to one raises instead."""
    a.setflags(write=False)
    return a


class PairsSource:
    """Cases from real annotated pairs: the moving image rotated per bin about its centre, landmarks carried along."""

    kind = "pairs"

    def __init__(self, records: list[PairRecord], root: str | os.PathLike = "", layout: str = "") -> None:
        missing = [r.name for r in records if r.fixed_points is None]
        if missing:
            raise VregError(f"pair {missing[0]!r} has no control points; the benchmark measures errors on them")
        self.records = records
        self.root, self.layout = Path(root), layout
        self._last: tuple[int, np.ndarray, np.ndarray] | None = None

    def describe(self) -> str:
        n = len(self.records)
        return f"{n} real pair{'s' if n != 1 else ''} in {self.root} (layout {self.layout})"

    def case_specs(self, config: CaseConfig) -> list[CaseSpec]:
        from vreg_cli.data.pairs import image_hw

        specs: list[CaseSpec] = []
        for i, rec in enumerate(self.records):
            hw = image_hw(rec.moving)
            points = rec.moving_points if config.protocol != "standard" else None
            specs.extend(draw_case(config, rec.name, "pair", i, b, hw, points) for b in config.bins)
        return specs

    def _images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(fixed, moving) of pair ``index``, kept for the next case: cases come pair by pair, bin after bin."""
        if self._last is None or self._last[0] != index:
            rec = self.records[index]
            self._last = (index, _read_only(read_image(rec.fixed)), _read_only(read_image(rec.moving)))
        return self._last[1], self._last[2]

    def load(self, spec: CaseSpec) -> CaseData:
        rec = self.records[spec.index]
        # __init__ refuses records without points; find_pairs reads a pair's fixed and moving points together
        assert rec.fixed_points is not None and rec.moving_points is not None
        fixed, original = self._images(spec.index)
        moving = present_moving(original, spec)
        carried = carry_points(spec, rec.moving_points)
        keep = _points_in_view(spec, carried, moving.shape[:2])
        return CaseData(fixed, moving, rec.fixed_points[keep], carried[keep], None)
