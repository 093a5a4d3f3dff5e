"""The pixel size an image file declares, read from its header without decoding it.

OpenCV has no header-only reader (its ``OPENCV_IO_MAX_IMAGE_PIXELS`` guard is read once, when the library loads, so a
library cannot set it for its callers) and Pillow is not a dependency, so the few headers vreg is given are read here:
PNG (IHDR), JPEG (the SOF segment), TIFF (the first IFD, which is the page OpenCV decodes), BMP and WebP. Every read
is bounded by the bytes given; a header this module does not know returns None and the caller checks the decoded
size instead.
"""

from __future__ import annotations

import struct

__all__ = ["PNG_SIGNATURE", "declared_size"]


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic ...), which carry the size
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def declared_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) the file in ``data`` declares, or None for a format or header this module cannot read."""
    data = bytes(data[: 1 << 20]) if len(data) > 1 << 20 else bytes(data)
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # standalone markers (TEM, RSTn, SOI, EOI)
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return None
    (offset,) = struct.unpack(order + "I", data[4:8])
    if offset + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    found: dict[int, int] = {}
    for k in range(min(count, 4096)):
        entry = offset + 2 + 12 * k
        if entry + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[entry : entry + 4])
        if tag in (256, 257):
            if kind == 3:  # SHORT, left-justified in the value field
                (value,) = struct.unpack(order + "H", data[entry + 8 : entry + 10])
            elif kind == 4:  # LONG
                (value,) = struct.unpack(order + "I", data[entry + 8 : entry + 12])
            else:
                return None
            found[tag] = value
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None
