"""The defaults of making and packing data sets (`vreg synth`, `vreg prepare`), owned once: the functions and the
command line both take them from here. Light on imports, so the CLI reads them without loading the data code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from vreg_cli.limits import MAX_WORKING_SIZE, SEED_RANGE, Range

__all__ = ["DEFAULT_LAYOUT", "PackConfig", "SynthConfig"]


#: the layout of a folder of annotated pairs when none is named (`--pairs-layout`)
DEFAULT_LAYOUT = "landmarks-csv"


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic data set (:func:`vreg_cli.data.synth.write_synth_dataset`): ``n`` samples of ``size`` x ``size``
    px in a triplet ``layout`` (name or .toml spec), vessel geometry ``vessels`` (procedural | drive | a folder in
    DRIVE's layout), drawn from ``seed``."""

    n: Annotated[int, Range(1, 1_000_000)] = 50
    layout: str = "fives-generated"
    size: Annotated[int, Range(16, MAX_WORKING_SIZE)] = 512
    seed: Annotated[int, SEED_RANGE] = 0
    vessels: str = "procedural"


@dataclass(frozen=True)
class PackConfig:
    """Packing triplets into HDF5 (:func:`vreg_cli.data.pack.pack`): resized to ``size`` x ``size`` px (None: keep),
    train/val/test fractions ``split`` permuted with ``seed``; bad samples stop it unless ``skip_bad``; an existing
    file is replaced only with ``force``."""

    size: Annotated[int | None, Range(8, MAX_WORKING_SIZE)] = None
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: Annotated[int, SEED_RANGE] = 0
    skip_bad: bool = False
    force: bool = False
