"""Every limit on what vreg reads and computes, in one place (docs/safety.md lists them).

Hostile or broken inputs must end in one line and exit 2, in bounded time and memory, never in a hang or a
traceback. The limits here are checked *before* the work they protect:

- checkpoints: the zip directory is checked before torch reads a byte of it (:func:`check_checkpoint_zip`): the
  pickle (``data.pkl``) at most :data:`MAX_PICKLE_BYTES`, every member at most :data:`MAX_CHECKPOINT_MEMBER_BYTES`,
  and all members together at most :data:`MAX_ZIP_RATIO` times the file (torch stores records uncompressed, so a
  larger ratio is a decompression bomb);
- a checkpoint's ``model_config``: walked with a node budget (:func:`check_plain_data`), so shared references
  ("billion laughs") cannot make the walk explode;
- images: at most ``VREG_MAX_IMAGE_PIXELS`` pixels (default :data:`DEFAULT_MAX_IMAGE_PIXELS`), read from the file
  header before decoding (:func:`image_pixels_limit`, ``vreg_cli.imageheader``);
- OCT volumes: at most ``VREG_MAX_VOLUME_VOXELS`` voxels (default :data:`DEFAULT_MAX_VOLUME_VOXELS`), read from the
  file's header before its B-scans are (:func:`check_volume_size`, ``vreg_cli.octvolume``); DICOM images: the image
  limit, from the header before the pixel data is decoded (``vreg_cli.dicom``);
- numbers a user types: each option's range is declared on its type, ``Annotated[float, Range(1, 90)]``, in the
  options dataclasses (``ClassicOptions``, ``SiftOptions``, ``LoFTROptions``, ``RegistrationContext``); the option
  parser (``methods/options.py``) and :func:`check_fields` (called by each dataclass' ``__post_init__``) refuse
  NaN, infinities and values outside it; seeds and the other command-line numbers use :func:`check_value`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import typing
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError

__all__ = [
    "CHUNK_SIZE_RANGE",
    "DEFAULT_MAX_VOLUME_VOXELS",
    "IMAGE_PIXELS_ENV",
    "MAX_CONFIG_NODES",
    "MAX_H5_SAMPLES",
    "MAX_LOFTR_PARAMETERS",
    "MAX_LOFTR_SIDE",
    "MAX_PICKLE_BYTES",
    "MAX_PICKLE_DEPTH",
    "MAX_WORKING_SIZE",
    "MIN_WORKING_SIZE",
    "Range",
    "SEED_RANGE",
    "VOLUME_VOXELS_ENV",
    "WORKERS_RANGE",
    "check_checkpoint_zip",
    "check_fields",
    "check_image_size",
    "check_plain_data",
    "check_value",
    "check_volume_size",
    "field_range",
    "image_pixels_limit",
]


#: largest ``data.pkl`` of a checkpoint (the bundled LoFTR's is 21 889 bytes)
MAX_PICKLE_BYTES = 64 * 2**20
#: deepest nesting of the objects in a checkpoint's pickle, checked before torch reads it (the bundled LoFTR's and a
#: training checkpoint's: 6); a pickle nested 300,000 deep crashed the interpreter while it was unpickled
MAX_PICKLE_DEPTH = 64
#: largest single member of a checkpoint zip (one tensor record; the bundled LoFTR's largest is 589 824 bytes)
MAX_CHECKPOINT_MEMBER_BYTES = 2 * 2**30
#: largest (sum of the members' sizes) / (file size) of a checkpoint zip; torch writes records uncompressed (the
#: bundled LoFTR: 8 902 972 bytes of members in an 8 943 923 byte file)
MAX_ZIP_RATIO = 4
#: largest number of values (containers and scalars, each visit counted) in a checkpoint's ``model_config``
MAX_CONFIG_NODES = 10_000
#: deepest nesting of a ``model_config`` (``LoFTRConfig.to_dict`` writes depth 2)
MAX_CONFIG_DEPTH = 8
#: largest image (width x height) decoded unless ``VREG_MAX_IMAGE_PIXELS`` says otherwise (8000 x 8000)
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000
#: environment variable that changes the image limit
IMAGE_PIXELS_ENV = "VREG_MAX_IMAGE_PIXELS"
#: largest OCT volume (B-scans x depth x width) read unless ``VREG_MAX_VOLUME_VOXELS`` says otherwise: 1 GB of float32
#: samples, and eyepy keeps a second copy for its intensity transform (a Spectralis 97 x 496 x 1024 scan is 49 M)
DEFAULT_MAX_VOLUME_VOXELS = 256_000_000
#: environment variable that changes the volume limit
VOLUME_VOXELS_ENV = "VREG_MAX_VOLUME_VOXELS"
#: largest working size (long side, px): SIFT's pyramid (first octave doubled) peaks at 1.3 GB at 2048 px, 4.3 GB
#: at 4096
MAX_WORKING_SIZE = 2048
#: largest long side LoFTR matches at (``loftr:size``, the refinement passes, a model without ``train_size`` at a large
#: working size): its coarse matching scores every pair of 8 px cells, (side / 8)**4 values: 10 GB at 2048 px, 1.6 GB
#: at 832 px (bundled model, measured with /usr/bin/time -v; docs/safety.md)
MAX_LOFTR_SIDE = 832
#: most parameters of a LoFTR a weights file's ``model_config`` may ask for (counted on torch's meta device, before
#: anything is allocated): MINIMA's LoFTR has 11.6 M, the bundled small one 2.2 M; 50 M is 200 MB of fp32 weights
MAX_LOFTR_PARAMETERS = 50_000_000
#: most samples a vreg HDF5 file may declare (its /ids are read whole): a training set of a million triplets
MAX_H5_SAMPLES = 1_000_000
#: smallest working size
MIN_WORKING_SIZE = 64
#: seeds are numpy seeds: 0 .. 2**32 - 1
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Range:
    """The allowed values of a number (or of each item of a tuple of numbers): finite and in ``[lo, hi]``.

    ``open_lo`` excludes ``lo`` itself; ``max_items`` bounds the length of a tuple (``min_items`` its least length).
    Used as ``Annotated`` metadata on options dataclass fields: ``angle_step: Annotated[float, Range(1, 90)] = 8.0``.
    """

    lo: float
    hi: float
    open_lo: bool = False
    max_items: int = 16
    min_items: int = 1

    def describe(self) -> str:
        return f"{'(' if self.open_lo else '['}{_number(self.lo)}, {_number(self.hi)}]"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (one phrase), else None. None values are the caller's business."""
        if isinstance(value, (tuple, list)):
            if not self.min_items <= len(value) <= self.max_items:
                return f"must have {self.min_items} to {self.max_items} item(s), got {len(value)}"
            for item in value:
                bad = self.problem(item)
                if bad:
                    return f"item {item!r} {bad}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number in {self.describe()}"
        if isinstance(value, int) and not -(10**16) <= value <= 10**16:  # huge ints: no float, no str (4300 digits)
            return f"must lie in {self.describe()}, got a number of more than 16 digits"
        if not math.isfinite(value):
            return f"must be a finite number in {self.describe()}, got {value}"
        low_ok = value > self.lo if self.open_lo else value >= self.lo
        if not (low_ok and value <= self.hi):
            return f"must lie in {self.describe()}, got {_number(value)}"
        return None


def _number(value: float) -> str:
    """A bound or value as typed: whole numbers in full (4294967295), others in %g."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def _range_of(hint: Any) -> Range | None:
    if typing.get_origin(hint) is typing.Annotated:
        return next((m for m in hint.__metadata__ if isinstance(m, Range)), None)
    return None


def field_range(owner: type, name: str) -> Range:
    """The Range declared on dataclass ``owner``'s field ``name`` (``Annotated[float, Range(...)]``), for a command-line
    option that takes the field's value (click's ``min=`` / ``max=``)."""
    rng = _range_of(typing.get_type_hints(owner, include_extras=True).get(name))
    if rng is None:
        raise ValueError(f"{owner.__name__}.{name} declares no Range")
    return rng


def _kind_problem(hint: Any, value: Any) -> str | None:
    """Why VALUE is not of the kind field type HINT declares (None: it is): a bool field takes True / False only,
    an int field a whole number (not 640.5, not True), a float field any real number but a bool. numpy's scalars
    count as their kind (through the ``numbers`` ABCs, so that this module does not import numpy)."""
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    is_bool = isinstance(value, bool) or type(value).__name__ in ("bool_", "bool") and hasattr(value, "item")
    if base is bool and not is_bool:
        return f"must be true or false, got {value!r}"
    if base is int and (is_bool or not isinstance(value, numbers.Integral)):
        return f"must be a whole number, got {value!r}"
    if base is float and (is_bool or not isinstance(value, numbers.Real)):
        return f"must be a number, got {value!r}"
    if typing.get_origin(base) is tuple and not isinstance(value, (tuple, list)):
        return f"must be a sequence of values (a tuple), got {value!r}"
    return None


def check_fields(obj: Any) -> None:
    """Raise ValueError naming the first field of dataclass ``obj`` whose value is not of its declared kind (bool,
    int, float) or outside its declared Range."""
    hints = typing.get_type_hints(type(obj), include_extras=True)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        bad = _kind_problem(hints.get(f.name), value)
        rng = _range_of(hints.get(f.name))
        if bad is None and rng is not None:
            bad = rng.problem(value)
        if bad:
            raise ValueError(f"{f.name} {bad}")


def check_value(option: str, value: float | None, rng: Range, how: str = "") -> None:
    """VregError naming a command-line ``option`` whose value is outside ``rng`` (None: not given, fine)."""
    if value is None:
        return
    bad = rng.problem(value)
    if bad:
        raise VregError(f"{option} {bad}{how}")


SEED_RANGE = Range(0, SEED_MAX)
#: worker processes of one command (--workers of register, benchmark and qa; register_many's workers)
WORKERS_RANGE = Range(1, 256)
#: pairs per task of a batch (register_many, `vreg register --chunk-size`)
CHUNK_SIZE_RANGE = Range(1, 10_000)


def _env_limit(name: str, default: int, unit: str) -> int:
    """The positive integer in environment variable ``name``, or ``default`` when it is unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        raise VregError(f"{name}={text!r}: expected a number of {unit}") from None
    if value < 1:
        raise VregError(f"{name}={text!r}: must be positive")
    return value


def image_pixels_limit() -> int:
    """The largest image (width x height) vreg decodes: ``VREG_MAX_IMAGE_PIXELS`` or the default."""
    return _env_limit(IMAGE_PIXELS_ENV, DEFAULT_MAX_IMAGE_PIXELS, "pixels")


def check_volume_size(path: str | os.PathLike, bscans: int, depth: int, width: int) -> None:
    """VregError when an OCT volume of ``bscans`` x ``depth`` x ``width`` is empty or larger than the volume limit
    (``VREG_MAX_VOLUME_VOXELS`` or :data:`DEFAULT_MAX_VOLUME_VOXELS`)."""
    limit = _env_limit(VOLUME_VOXELS_ENV, DEFAULT_MAX_VOLUME_VOXELS, "voxels")
    if min(bscans, depth, width) < 1:
        raise VregError(f"{path}: the volume declares {bscans} B-scans of {width}x{depth}: nothing to read")
    if bscans * depth * width > limit:
        raise VregError(
            f"{path}: {bscans} B-scans of {width}x{depth} is more than the {limit:,} voxel limit; set "
            f"{VOLUME_VOXELS_ENV} to read it (it needs about 10 bytes of memory per voxel)"
        )


def check_image_size(path: str | os.PathLike, width: int, height: int) -> None:
    """VregError when a ``width`` x ``height`` image is larger than :func:`image_pixels_limit`."""
    limit = image_pixels_limit()
    if width * height > limit:
        raise VregError(
            f"{path}: {width}x{height} px is larger than the {limit:,} pixel limit; set {IMAGE_PIXELS_ENV} "
            "to read it (it needs about 10 bytes of memory per pixel)"
        )


def check_checkpoint_zip(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a checkpoint zip whose directory declares too much data, before anything is decompressed.

    Raises:
        VregError: one line naming the file and the limit (pickle size, member size or compression ratio).
    """
    file_bytes = max(path.stat().st_size, 1)
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.filename.endswith("/data.pkl") or info.filename == "data.pkl":
            if info.file_size > MAX_PICKLE_BYTES:
                raise VregError(
                    f"{path}: its pickle ({info.filename}) declares {info.file_size:,} bytes, over the "
                    f"{MAX_PICKLE_BYTES:,} byte limit (vreg_cli.limits.MAX_PICKLE_BYTES); not a LoFTR checkpoint"
                )
        if info.file_size > MAX_CHECKPOINT_MEMBER_BYTES:
            raise VregError(
                f"{path}: member {info.filename} declares {info.file_size:,} bytes, over the "
                f"{MAX_CHECKPOINT_MEMBER_BYTES:,} byte limit (vreg_cli.limits.MAX_CHECKPOINT_MEMBER_BYTES)"
            )
    if total > MAX_ZIP_RATIO * file_bytes + 2**20:
        raise VregError(
            f"{path}: its zip members declare {total:,} bytes from a {file_bytes:,} byte file (more than "
            f"{MAX_ZIP_RATIO}x: a decompression bomb, torch writes checkpoints uncompressed); refused"
        )


def check_plain_data(value: Any, what: str) -> bool:
    """True when ``value`` is str/int/float/bool/None or lists, tuples, str-keyed dicts of them.

    The walk counts every value it visits (a shared reference once per visit) and raises VregError naming ``what``
    past :data:`MAX_CONFIG_NODES` values or :data:`MAX_CONFIG_DEPTH` levels, so it ends quickly whatever the input.
    """
    budget = [MAX_CONFIG_NODES]

    def walk(v: Any, depth: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            raise VregError(f"{what}: more than {MAX_CONFIG_NODES:,} values (vreg_cli.limits.MAX_CONFIG_NODES)")
        if v is None or isinstance(v, (str, int, float, bool)):
            return True
        if depth >= MAX_CONFIG_DEPTH:
            raise VregError(f"{what}: nested deeper than {MAX_CONFIG_DEPTH} levels (vreg_cli.limits.MAX_CONFIG_DEPTH)")
        if isinstance(v, (list, tuple)):
            return all(walk(item, depth + 1) for item in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and walk(item, depth + 1) for k, item in v.items())
        return False

    return walk(value, 0)
