"""Image and table I/O with clear errors. Images in the core are numpy uint8, (H, W) grey or (H, W, 3) RGB."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from vreg_cli.errors import VregError, first_line
from vreg_cli.geometry import resize_image
from vreg_cli.imageheader import declared_size
from vreg_cli.limits import IMAGE_PIXELS_ENV, check_image_size, image_pixels_limit
from vreg_cli.paths import atomic_output, check_input_file
from vreg_cli.read_options import ReadOptions

__all__ = [
    "BadTable", "LANDMARK_COLUMNS", "check_same_settings", "clahe_gray", "image_hw", "read_image", "read_json",
    "read_landmarks", "read_mask", "read_registrable", "registrable_problem", "resize_long_side", "to_gray",
    "to_rgb", "to_uint8", "write_csv", "write_image", "write_json",
]  # fmt: skip


Mode = Literal["any", "gray", "rgb"]


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Scale 16-bit or float images to uint8 (16-bit by 1/257, float by its own range when it exceeds [0, 1])."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:  # rounded x / 257 without a float copy (a 64 MP RGB image would need 768 MB more)
        return cv2.convertScaleAbs(img, alpha=1.0 / 257.0)
    # cv2 scales in one pass without float temporaries (a big float TIFF would otherwise need several copies)
    f = img if img.dtype in (np.float32, np.float64, np.int8, np.int16, np.int32) else img.astype(np.float32)
    lo, hi = float(np.nanmin(f)), float(np.nanmax(f))
    if lo >= 0.0 and hi <= 1.0:
        return cv2.convertScaleAbs(f, alpha=255.0)
    alpha = 255.0 / max(hi - lo, 1e-12)
    return cv2.convertScaleAbs(f, alpha=alpha, beta=-lo * alpha)


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB or (H, W) -> (H, W) uint8."""
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def clahe_gray(img: np.ndarray) -> np.ndarray:
    """(H, W[, 3]) uint8 -> (H, W) uint8 grey with local contrast equalised (CLAHE): faint vessels stay visible."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(to_gray(img))


def to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) -> (H, W, 3) uint8 RGB."""
    if img.ndim == 3:
        return img
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


def read_image(path: str | os.PathLike, mode: Mode = "any", options: ReadOptions | None = None) -> np.ndarray:
    """Read PNG/JPEG/TIFF (8- or 16-bit, grey, RGB or RGBA), DICOM or an OCT volume's picture as uint8.

    ``mode="any"`` keeps grey images grey and returns RGB for colour ones; a 3-channel file whose channels are
    equal (a grey FA stored as RGB) comes back as (H, W). DICOM (``vreg_cli.dicom``, the "DICM" marker or a
    ``.dcm`` name) and OCT volumes (``vreg_cli.octvolume``, by the name's ending) are read as ``options`` says.
    Raises VregError naming the file when it is missing or cannot be decoded.
    """
    from vreg_cli.dicom import is_dicom
    from vreg_cli.octvolume import is_volume

    path = Path(path)
    options = options or ReadOptions()
    check_input_file(path, "an image file")
    if is_volume(path):
        from vreg_cli.octvolume import read_volume

        return _as_mode(to_uint8(read_volume(path, options.oct_image).image), mode)
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise VregError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if is_dicom(path, head):
        from vreg_cli.dicom import read_dicom

        return _as_mode(_channels(to_uint8(read_dicom(path, options.frame)), bgr=False), mode)
    return _as_mode(_channels(_decode(path), bgr=True), mode)


def _decode(path: Path) -> np.ndarray:
    """The pixels of an image file OpenCV decodes (BGR order), its size checked against the limit first."""
    limit = image_pixels_limit()
    try:
        # a file larger than the largest image stored uncompressed (16-bit RGBA) is not read into memory at all
        if path.stat().st_size > 8 * limit + 2**20:
            raise VregError(
                f"{path}: {path.stat().st_size:,} bytes is more than an image within the {limit:,} pixel limit "
                f"needs; set {IMAGE_PIXELS_ENV} to read it"
            )
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise VregError(f"{path}: cannot read ({exc.strerror or exc})") from None
    declared = declared_size(data.data) if data.size else None  # ndarray.data: the array's memoryview
    if declared is not None:
        check_image_size(path, *declared)  # before decoding: the decoder would allocate what the header says
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:  # OpenCV's own guard (a size over its limit, a header it rejects)
        img = None
    if img is None or img.size == 0:
        raise VregError(f"{path}: not a readable image (corrupt or unsupported format)")
    check_image_size(path, img.shape[1], img.shape[0])  # formats whose header vreg does not read
    if img.dtype.kind == "f" and not np.isfinite(img).all():  # a float TIFF: NaN would quietly become black
        raise VregError(f"{path}: the image holds NaN or infinite values")
    return to_uint8(img)


def _channels(img: np.ndarray, bgr: bool) -> np.ndarray:
    """(H, W) or (H, W, 3) RGB from (H, W[, 1 | 3 | 4]) uint8 (``bgr``: OpenCV's channel order); a colour image
    whose three channels are equal comes back grey."""
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[:, :, :3]
        if img.shape[2] == 1:
            return img[:, :, 0]
        if bgr:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 1], img[:, :, 2]):
            return img[:, :, 0].copy()
    return img


def _as_mode(img: np.ndarray, mode: Mode) -> np.ndarray:
    if mode == "gray":
        return to_gray(img)
    if mode == "rgb":
        return to_rgb(img)
    return img


def image_hw(path: str | os.PathLike, options: ReadOptions | None = None) -> tuple[int, int]:
    """(H, W) of an image file from its header when ``vreg_cli.imageheader`` reads it (cheap), else by decoding it.

    Raises:
        VregError: one line naming the file: missing, unreadable, larger than the pixel limit, or not an image.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise VregError(f"{path}: cannot read ({exc.strerror or exc})") from None
    declared = declared_size(head)
    if declared is None:  # (DICOM and OCT volumes too: the size of the picture ``options`` chooses)
        h, w = read_image(path, options=options).shape[:2]
        return h, w
    check_image_size(path, *declared)
    return declared[1], declared[0]


#: smallest side (px) of an image that registration accepts
MIN_REGISTRABLE_SIDE = 32


def registrable_problem(img: np.ndarray) -> str | None:
    """Why (H, W[, C]) ``img`` cannot be registered (smaller than 32 px, or every pixel equal), else None."""
    h, w = img.shape[:2]
    if min(h, w) < MIN_REGISTRABLE_SIDE:
        return f"{w}x{h} px is too small to register (need at least {MIN_REGISTRABLE_SIDE} px on each side)"
    if int(img.max()) == int(img.min()):
        return f"blank image (every pixel is {int(img.min())}): nothing to register"
    return None


def read_registrable(path: str | os.PathLike, options: ReadOptions | None = None) -> np.ndarray:
    """:func:`read_image` for registration inputs: VregError naming the file when it is blank or too small."""
    img = read_image(path, options=options)
    problem = registrable_problem(img)
    if problem:
        raise VregError(f"{path}: {problem}")
    return img


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask file as a (H, W) bool array (any non-zero pixel is foreground)."""
    return read_image(path, mode="gray") > 0


def write_image(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write a (H, W) or (H, W, 3) RGB uint8 image atomically; the format follows the extension."""
    path = Path(path)
    out = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ext = path.suffix.lower() or ".png"
    ok, buf = cv2.imencode(ext, out)
    if not ok:
        raise VregError(f"{path}: cannot encode an image with extension {ext!r}")
    with atomic_output(path) as tmp:
        buf.tofile(str(tmp))
    return path


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object from a file vreg wrote (run.json, methods.json, config.json); one VregError line otherwise."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VregError(f"{path}: unreadable ({exc})") from None
    if not isinstance(obj, dict):
        raise VregError(f"{path}: not a JSON object as vreg writes it")
    return obj


def check_same_settings(path: Path, config: dict[str, Any], resume: bool, hint: str) -> None:
    """On --resume, the settings of a resumable run (``config``) must equal those it saved in ``path``.

    ``hint``: what the user can do instead (e.g. "use a new --out or --force"). A missing file (a run from before
    the settings were saved) is accepted. ``config`` is compared as JSON stores it (tuples become lists).
    """
    if resume and path.is_file():
        try:
            old = read_json(path)
        except VregError as exc:
            raise VregError(f"--resume: {exc}; {hint}") from None
        config = json.loads(json.dumps(config, default=str))
        diffs = [k for k in config if old.get(k) != config[k]]
        if diffs:
            k = diffs[0]
            raise VregError(
                f"--resume: {path.parent} was run with different settings ({k}: {old.get(k)!r} then, "
                f"{config[k]!r} now); {hint}"
            )


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (indent 2)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
    return path


def write_csv(path: str | os.PathLike, frame: Any) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    path = Path(path)
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def resize_long_side(img: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize (H, W[, C]) so that max(H, W) == long_side (aspect kept, sides rounded, at least 1 px).

    Returns (resized, S) where S (3x3) maps original pixel coordinates to resized ones exactly
    (``geometry.resize_image``: area interpolation when shrinking, linear when enlarging).
    """
    h, w = img.shape[:2]
    factor = long_side / max(h, w)
    return resize_image(img, (max(1, round(h * factor)), max(1, round(w * factor))))


#: the columns of a landmarks CSV (0-based pixels, x right, y down), in the order read_landmarks returns them
LANDMARK_COLUMNS = ("x_fixed", "y_fixed", "x_moving", "y_moving")


class BadTable(VregError):
    """A table file vreg cannot use; ``where`` is the file (or 'file:line'), ``reason`` what is wrong with it."""

    def __init__(self, where: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = str(where), reason


def read_landmarks(path: str | os.PathLike, columns: Sequence[str] = LANDMARK_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """The one landmarks CSV reader: (fixed (N, 2), moving (N, 2)) float64 pixels from a CSV with a header.

    ``columns``: the names of x_fixed, y_fixed, x_moving, y_moving in the file (header names are stripped of
    spaces). Rows whose four values are all empty (blank lines too) are skipped. Raises :class:`BadTable` (a
    VregError, one line) naming the file, or 'file:line' (as an editor counts, the header is line 1) for a value
    that is not a finite number or a row longer than the header.
    """
    import pandas as pd

    path = Path(path)
    columns = list(columns)
    if path.is_dir():
        raise BadTable(path, "is a directory, not a landmarks CSV")
    if not path.is_file():
        raise BadTable(path, "missing landmarks file")
    try:
        # every cell as text (nothing guessed as NaN), blank lines kept so that row i is line i + 2; a row longer
        # than the header is an error (pandas warns for the first data row, raises for the others)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, skip_blank_lines=False, skipinitialspace=True,
                index_col=False, encoding_errors="replace",
            )  # fmt: skip
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except pd.errors.ParserWarning:
        raise BadTable(f"{path}:2", "more fields than the header has") from None
    except (pd.errors.ParserError, OSError) as exc:
        text = first_line(exc)
        longer = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        if longer:
            n, line, saw = longer.groups()
            raise BadTable(f"{path}:{line}", f"{saw} fields, but the header has {n}") from None
        raise BadTable(path, f"not a readable CSV ({text})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        header = ",".join(frame.columns) or "empty"
        raise BadTable(path, f"landmarks CSV is missing column(s) {', '.join(missing)} (header: {header})")
    text = frame[columns].fillna("").apply(lambda col: col.str.strip())
    blank = (text == "").all(axis=1).to_numpy()
    values = text.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~blank & ~np.isfinite(values).all(axis=1))
    if len(bad):
        i = int(bad[0])
        raise BadTable(
            f"{path}:{i + 2}",
            f"cannot parse {','.join(text.iloc[i])!r} as finite numbers for {','.join(columns)} "
            f"({len(bad)} such row(s))",
        )
    values = values[~blank]
    if len(values) == 0:
        raise BadTable(path, "landmarks CSV has no rows")
    return values[:, :2], values[:, 2:]
