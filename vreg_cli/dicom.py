"""DICOM images (ophthalmic photography, secondary capture, multi-frame): one frame as a uint8 numpy image.

pydicom is an optional extra (``pip install 'vreg-cli[dicom]'``), imported only here and only when a DICOM file is
read. The header is read first (without the pixel data) and its declared size checked against the image limit;
only then is the one frame asked for decoded. A compressed transfer syntax that no installed decoder handles, a
truncated file and a file that is not DICOM each end in one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.errors import VregError, first_line
from vreg_cli.limits import check_image_size

__all__ = ["DICOM_SUFFIXES", "INSTALL_HINT", "is_dicom", "read_dicom"]

#: file name endings read as DICOM even without the "DICM" marker (files written without the 128-byte preamble)
DICOM_SUFFIXES = (".dcm", ".dicom")
#: how to get the optional reader
INSTALL_HINT = "pip install 'vreg-cli[dicom]'"
#: decoders pydicom can use for compressed pixel data, named in the refusal when none is installed
_DECODERS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg (or python-gdcm)"


def is_dicom(path: str | os.PathLike, head: bytes) -> bool:
    """Whether a file is DICOM: the "DICM" marker after the 128-byte preamble, or a ``.dcm`` / ``.dicom`` name.

    ``head``: the file's first bytes (at least 132 for the marker to be seen).
    """
    return head[128:132] == b"DICM" or Path(path).suffix.lower() in DICOM_SUFFIXES


def _pydicom():  # type: ignore[no-untyped-def]
    try:
        import pydicom
        import pydicom.pixels
    except ImportError:
        raise VregError(f"reading DICOM needs pydicom: {INSTALL_HINT}") from None
    return pydicom


def read_dicom(path: str | os.PathLike, frame: int | None = None) -> np.ndarray:
    """Frame ``frame`` (0-based) of a DICOM file as (H, W) or (H, W, 3) RGB: uint8 for unsigned samples (scaled by
    the bits stored), the file's own type for signed or float ones (``io.to_uint8`` scales them by their range).

    ``frame=None`` takes the only frame of a single-frame file; a multi-frame file then needs ``frame``.
    MONOCHROME1 (white is 0) is inverted to MONOCHROME2; YBR colour comes back as RGB.

    Raises:
        VregError: one line naming the file: pydicom missing, not DICOM, no pixel data, larger than the pixel
            limit, a frame out of range, a compressed transfer syntax without a decoder, or truncated pixel data.
    """
    pydicom = _pydicom()
    path = Path(path)
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, force=path.suffix.lower() in DICOM_SUFFIXES)
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise VregError(f"{path}: not a readable DICOM file ({first_line(exc)})") from None
    rows, cols = header.get("Rows"), header.get("Columns")
    if not rows or not cols:
        raise VregError(f"{path}: the DICOM file holds no image (no Rows/Columns)")
    check_image_size(path, int(cols), int(rows))
    frames = int(header.get("NumberOfFrames") or 1)
    if frame is None:
        if frames > 1:
            raise VregError(f"{path}: the DICOM file holds {frames} frames; choose one with --frame N (0-based)")
        frame = 0
    if not 0 <= frame < frames:
        raise VregError(f"{path}: --frame {frame} is out of range: the file holds {frames} frame(s), 0 to {frames - 1}")
    syntax = header.file_meta.get("TransferSyntaxUID") if hasattr(header, "file_meta") else None
    try:
        img = pydicom.pixels.pixel_array(str(path), index=frame)
    except (RuntimeError, NotImplementedError) as exc:
        if syntax is not None and syntax.is_compressed:
            raise VregError(
                f"{path}: the pixels are compressed as {syntax.name}, which needs a decoder: {_DECODERS}"
            ) from None
        raise VregError(f"{path}: cannot decode the pixel data ({first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - pydicom's decoders raise many types for a truncated or broken file
        raise VregError(f"{path}: cannot decode the pixel data ({first_line(exc)})") from None
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        raise VregError(f"{path}: a DICOM frame of shape {img.shape} is not an image vreg reads")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.dtype.kind in "bu":  # unsigned samples: scaled by the bits the file stores (12-bit data is 0..4095)
        bits = min(int(header.get("BitsStored") or 8 * img.itemsize), 8 * img.itemsize)
        img = cv2.convertScaleAbs(img.astype(np.float32), alpha=255.0 / (2**bits - 1)) if bits != 8 else img
        img = img.astype(np.uint8, copy=False)
        if header.get("PhotometricInterpretation") == "MONOCHROME1":  # white is 0: turned into MONOCHROME2
            img = 255 - img
    elif header.get("PhotometricInterpretation") == "MONOCHROME1":  # signed or float: scaled by range later
        img = img.max() + img.min() - img
    return img
