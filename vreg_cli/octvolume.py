"""OCT volumes as the moving image, and where each B-scan lies on it.

A volume comes off the device as one file (Heidelberg HEYEX ``.vol``, ``.e2e`` or an XML export, Topcon ``.fda``,
or eyepy's own ``.eye``), read through eyepy, an optional extra (``pip install 'vreg-cli[oct]'``) imported only
here. The moving image vreg registers is one of two pictures of the volume, both in the **localizer's pixel frame**
(the infrared scanning-laser image the device takes with the scan; eyepy makes a stand-in for volumes without one):

- ``enface``: the mean of each A-scan over depth, resampled from the B-scan grid (one row per B-scan) onto the
  localizer's pixels and cropped to the scanned area; its pixel (x, y) is localizer pixel (x + x0, y + y0);
- ``localizer``: the localizer itself, wider than the scan and sharp in both directions.

The B-scans' lines come from the volume's own start and end positions (millimetres or degrees on the localizer),
so a transform from the moving image to the fundus photo also places every B-scan on it.

Bounds: a HEYEX VOL's header, an XML export's image list and an ``.eye`` file's array header are read before the
B-scans, and their declared size checked against the volume limit (``limits.check_volume_size``); an E2E or FDA
file, whose layout eyepy alone reads, is bounded by its file size first and by its decoded shape after.
"""

from __future__ import annotations

import logging
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vreg_cli.errors import VregError, first_line
from vreg_cli.limits import DEFAULT_MAX_VOLUME_VOXELS, check_image_size, check_volume_size
from vreg_cli.paths import check_input_file
from vreg_cli.read_options import OctImage

__all__ = [
    "INSTALL_HINT",
    "VOLUME_SUFFIXES",
    "OctVolume",
    "bscans_in",
    "from_eyepy",
    "is_volume",
    "read_volume",
]

#: file name ending -> the volume format it is read as
VOLUME_SUFFIXES = {".vol": "HEYEX VOL", ".e2e": "HEYEX E2E", ".fda": "Topcon FDA", ".eye": "eyepy", ".xml": "HEYEX XML"}
#: how to get the optional reader
INSTALL_HINT = "pip install 'vreg-cli[oct]'"
#: a HEYEX VOL file: its magic, the header's size and the (size_x, n_bscans, size_y) and localizer size offsets
_VOL_MAGIC, _VOL_HEADER = b"HSF-OCT-", 2048
#: what an en-face picture's pixels are, as the transform JSON says it
_ENFACE_PIXELS = (
    "the en-face projection on the localizer's pixel grid, cropped: localizer pixel = localizer_from_image @ pixel"
)
#: the largest HEYEX XML export read (the XML only: its images are separate files)
_MAX_XML_BYTES = 16 * 2**20


def is_volume(path: str | os.PathLike) -> bool:
    """Whether vreg reads ``path`` as an OCT volume (by its name's ending: :data:`VOLUME_SUFFIXES`)."""
    return Path(path).suffix.lower() in VOLUME_SUFFIXES


@dataclass(frozen=True)
class OctVolume:
    """One picture of an OCT volume, ready to register, and its B-scans' lines on that picture.

    Attributes:
        image: (H, W) picture: uint8 where the volume's values are 8-bit grey (eyepy's intensity transform for
            HEYEX and Topcon files), else float32 (``io.to_uint8`` scales it by its range).
        which: ``"enface"`` or ``"localizer"``: what ``image`` shows.
        shape: (B-scans, depth, width) of the volume.
        bscan_lines: (N, 2, 2) float64: B-scan i's start and end (x, y) in ``image``'s pixels, in the file's order.
        localizer_from_image: (3, 3) maps ``image``'s pixels to the localizer's (a shift for the en-face crop).
        source: the file, or ``"<EyeVolume>"`` for an object given to the API.
    """

    image: np.ndarray
    which: OctImage
    shape: tuple[int, int, int]
    bscan_lines: np.ndarray
    localizer_from_image: np.ndarray
    source: str

    def describe(self, fixed_from_moving: np.ndarray | None = None) -> dict[str, Any]:
        """The JSON block vreg writes beside a transform: what the moving image is and, given the (3, 3) transform
        from this image to the fixed one, each B-scan's end points in fixed-image pixels."""
        block: dict[str, Any] = {
            "source": self.source,
            "kind": "oct-volume",
            "image": self.which,
            "volume_shape": {"bscans": self.shape[0], "depth": self.shape[1], "width": self.shape[2]},
            "moving_pixels": "localizer pixels" if self.which == "localizer" else _ENFACE_PIXELS,
            "localizer_from_image": np.round(self.localizer_from_image, 6).tolist(),
        }
        if fixed_from_moving is not None:
            ends = bscans_in(fixed_from_moving, self.bscan_lines)
            block["bscans_fixed"] = [
                {"index": i, "start": np.round(e[0], 2).tolist(), "end": np.round(e[1], 2).tolist()}
                for i, e in enumerate(ends)
            ]
        return block


def bscans_in(matrix: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """(N, 2, 2) B-scan end points mapped through the (3, 3) ``matrix`` (perspective division included)."""
    pts = cv2.perspectiveTransform(lines.reshape(-1, 1, 2).astype(np.float64), np.asarray(matrix, np.float64))
    return pts.reshape(-1, 2, 2)


def _eyepy() -> Any:
    try:
        import eyepy
    except ImportError:
        raise VregError(f"reading OCT volumes needs eyepy: {INSTALL_HINT}") from None
    return eyepy


def read_volume(path: str | os.PathLike, which: OctImage = "localizer", crop: bool = True) -> OctVolume:
    """Read the OCT volume at ``path`` and make the picture ``which`` of it.

    ``crop=False`` keeps the en-face picture on the localizer's whole pixel grid (zero outside the scan), so that
    it is pixel-aligned with the localizer (``vreg prepare`` packs it so, beside a CF aligned with the localizer).

    Raises:
        VregError: one line naming the file: eyepy missing, a declared size over the limits, a truncated or
            unreadable file, or a scan pattern that is not a volume (one circular or radial scan).
    """
    path = Path(path)
    kind = VOLUME_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise VregError(f"{path}: not an OCT volume vreg reads (the endings are {', '.join(VOLUME_SUFFIXES)})")
    check_input_file(path, "an OCT volume")
    eyepy = _eyepy()
    _check_declared_size(path, kind)
    importers = {
        "HEYEX VOL": eyepy.import_heyex_vol,
        "HEYEX E2E": eyepy.import_heyex_e2e,
        "Topcon FDA": eyepy.import_topcon_fda,
        "HEYEX XML": eyepy.import_heyex_xml,
        "eyepy": eyepy.EyeVolume.load,
    }
    quiet = logging.getLogger("eyepy")  # eyepy logs warnings (missing layer segmentations) that are not ours to show
    level, quiet.level = quiet.level, logging.ERROR
    try:
        volume = importers[kind](path)
        # eyepy's intensity transform for the format, computed here, inside the guard; only the en-face picture
        # needs it (in a fresh process its first call also imports scikit-image: about 0.3 s the localizer skips)
        data = volume.data if which == "enface" else None
    except Exception as exc:  # noqa: BLE001 - eyepy's parsers raise many types for a truncated or odd file
        raise VregError(f"{path}: not a readable {kind} volume ({first_line(exc)})") from None
    finally:
        quiet.setLevel(level)
    return _from_volume(volume, data, which, str(path), crop)


def from_eyepy(volume: Any, which: OctImage = "localizer") -> OctVolume:
    """The picture ``which`` of an ``eyepy.EyeVolume`` the caller already holds (the API's way in)."""
    check_volume_size("EyeVolume", *volume.shape)
    return _from_volume(volume, volume.data if which == "enface" else None, which, "<EyeVolume>")


def _from_volume(
    volume: Any, data: np.ndarray | None, which: OctImage, source: str, crop: bool = True
) -> OctVolume:  # fmt: skip
    """The picture ``which`` of an eyepy volume; ``data``: its intensity-transformed samples (the en-face picture's
    source; None for the localizer)."""
    shape = tuple(int(v) for v in volume.shape)
    if len(shape) != 3:
        raise VregError(f"{source}: the volume's data has shape {shape}, not B-scans x depth x width")
    check_volume_size(source, *shape)
    localizer = np.asarray(volume.localizer.data)
    if localizer.ndim == 3:  # a colour localizer: its mean
        localizer = localizer.mean(axis=2)
    if localizer.dtype != np.uint8:
        localizer = localizer.astype(np.float32)
    check_image_size(source, localizer.shape[1], localizer.shape[0])
    lines = _bscan_lines(volume, shape)
    if which == "localizer":
        return OctVolume(localizer, which, shape, lines, np.eye(3), source)  # type: ignore[arg-type]
    assert data is not None  # the callers compute it for the en-face picture
    # row r of eyepy's projection is B-scan n-1-r (its localizer transform maps the last B-scan to the top row)
    projection = np.ascontiguousarray(np.nanmean(np.asarray(data, np.float32), axis=1)[::-1])
    to_localizer = np.asarray(volume.localizer_transform.params, np.float64)
    corners = cv2.perspectiveTransform(
        np.array([[[0, 0]], [[shape[2] - 1, 0]], [[0, shape[0] - 1]], [[shape[2] - 1, shape[0] - 1]]], np.float64),
        to_localizer,
    ).reshape(-1, 2)
    lo = np.floor(corners.min(axis=0) + 1e-6).astype(int)  # the tolerance: corners computed as 95.9999999 are 96
    hi = np.ceil(corners.max(axis=0) - 1e-6).astype(int)
    if not crop:
        lo, hi = np.zeros(2, int), np.array([localizer.shape[1] - 1, localizer.shape[0] - 1])
    size = hi - lo + 1
    check_image_size(source, int(size[0]), int(size[1]))
    shift = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]], np.float64)
    enface = cv2.warpAffine(
        np.nan_to_num(projection), (shift @ to_localizer)[:2], (int(size[0]), int(size[1])),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE if crop else cv2.BORDER_CONSTANT,
    )  # fmt: skip
    if data.dtype == np.uint8:  # eyepy's intensity transform gave 8-bit grey values: the mean of them is too
        enface = np.clip(np.rint(enface), 0, 255).astype(np.uint8)
    localizer_from_image = np.linalg.inv(shift)
    return OctVolume(enface, which, shape, bscans_in(shift, lines), localizer_from_image, source)  # type: ignore[arg-type]


def _bscan_lines(volume: Any, shape: tuple[int, ...]) -> np.ndarray:
    """(N, 2, 2) each B-scan's start and end in localizer pixels: from its own positions where they are in the
    localizer's unit (mm or degrees), else from eyepy's projection-to-localizer transform (volumes without a
    localizer, whose B-scan positions are projection pixels)."""
    n, width = shape[0], shape[2]
    loc = volume.localizer
    unit = getattr(loc, "scale_unit", None)
    metas = [volume[i].meta for i in range(n)]
    if unit in ("mm", "°") and all(m.get("pos_unit", unit) == unit for m in metas):
        scale = np.array([loc.scale_x, loc.scale_y], np.float64)
        offset = np.array([15.0, 15.0]) if unit == "°" else np.zeros(2)  # degrees: origin at the centre of 30°
        ends = np.array([[m["start_pos"], m["end_pos"]] for m in metas], np.float64)
        return (ends + offset) / scale
    rows = n - 1 - np.arange(n, dtype=np.float64)
    ends = np.stack([np.stack([np.zeros(n), rows], 1), np.stack([np.full(n, width - 1.0), rows], 1)], 1)
    return bscans_in(np.asarray(volume.localizer_transform.params, np.float64), ends)


def _check_declared_size(path: Path, kind: str) -> None:
    """Check the size a volume file declares before eyepy reads its B-scans (module docstring: Bounds)."""
    size = path.stat().st_size
    if kind == "HEYEX VOL":
        with path.open("rb") as fh:
            head = fh.read(_VOL_HEADER)
        if len(head) < _VOL_HEADER or not head.startswith(_VOL_MAGIC):
            raise VregError(f"{path}: not a HEYEX VOL file (no HSF-OCT header)")
        width, bscans, depth = struct.unpack_from("<3I", head, 12)
        slo_w, slo_h = struct.unpack_from("<2I", head, 48)
        (bscan_header,) = struct.unpack_from("<I", head, 100)
        check_volume_size(path, bscans, depth, width)
        check_image_size(path, slo_w, slo_h)
        need = _VOL_HEADER + slo_w * slo_h + bscans * (bscan_header + 4 * width * depth)
        if size < need:
            raise VregError(f"{path}: truncated: {size:,} bytes, its header needs {need:,}")
    elif kind == "eyepy":
        try:
            with zipfile.ZipFile(path) as archive, archive.open("raw_volume.npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in read_header:
                    raise ValueError(f"npy format version {version}")
                shape, _, dtype = read_header[version](member)  # the header only
                stored = archive.getinfo("raw_volume.npy").file_size
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
            raise VregError(f"{path}: not a readable eyepy volume ({first_line(exc)})") from None
        if len(shape) != 3 or dtype.hasobject:
            raise VregError(f"{path}: the eyepy volume's array is {dtype} of shape {shape}, not a volume")
        check_volume_size(path, *shape)
        if stored < int(np.prod(shape)) * dtype.itemsize:
            raise VregError(f"{path}: truncated: the volume's array holds fewer bytes than its shape {shape} needs")
    elif kind == "HEYEX XML":
        _check_xml(path, size)
    elif size > 8 * DEFAULT_MAX_VOLUME_VOXELS:  # E2E, FDA: at most a few bytes per voxel, plus their images
        raise VregError(f"{path}: {size:,} bytes is more than a volume within the voxel limit holds")


def _check_xml(path: Path, size: int) -> None:
    import xml.etree.ElementTree as ElementTree

    if size > _MAX_XML_BYTES:
        raise VregError(f"{path}: {size:,} bytes is larger than a HEYEX XML export ({_MAX_XML_BYTES:,} at most)")
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as exc:
        raise VregError(f"{path}: not a readable HEYEX XML export ({first_line(exc)})") from None
    octs = root.findall(".//ImageType[Type='OCT']..")
    if not octs:
        raise VregError(f"{path}: the XML lists no OCT images (not a HEYEX volume export)")
    context = octs[0].find("OphthalmicAcquisitionContext")
    try:
        width = int(context.findtext("Width", ""))  # type: ignore[union-attr]
        depth = int(context.findtext("Height", ""))  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        raise VregError(f"{path}: the XML's first OCT image has no Width/Height") from None
    check_volume_size(path, len(octs), depth, width)
