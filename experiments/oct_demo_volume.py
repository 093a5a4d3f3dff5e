"""Write a small OCT volume whose en-face projection reproduces an image: the demo and test input for OCT volumes.

    python experiments/oct_demo_volume.py demo.vol                  # HEYEX VOL, from the bundled moving image
    python experiments/oct_demo_volume.py demo.eye --bscans 49      # eyepy's own format, 49 B-scans

The localizer is the whole image (grey); the volume scans a box inside it (``--box x0,y0,x1,y1``, default the central
70 %) with ``--bscans`` evenly spaced horizontal B-scans of one A-scan per image column. Every A-scan holds the
image's value at its place along its whole depth, stored so that eyepy's intensity transform for the format gives
that value back: the mean over depth, the en-face projection, is the image's box sampled at the B-scans' rows.

HEYEX VOL bytes are built here from the format eyepy reads (``eyepy.io.he.vol_reader.vol_format``: a 2048-byte
header, the localizer, then each B-scan's 256-byte header and float32 samples), because eyepy 0.21's own writer fails
on its date fields. The ``.eye`` file is written by eyepy (``EyeVolume.save``).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MOVING = ROOT / "data_specs" / "sample" / "moving.png"
#: localizer pixel size (mm) of the demo: a 30° Spectralis SLO of 768 px is about 11.5 µm per pixel
PIXEL_MM = 0.0115
#: samples per A-scan: enough to look like a B-scan, small enough for a test
DEPTH = 16


def demo_scan(image: np.ndarray, box: tuple[int, int, int, int], bscans: int) -> dict[str, np.ndarray]:
    """The demo volume of a (H, W) uint8 ``image``: ``localizer`` (H, W) uint8, ``enface`` (bscans, width) uint8
    (B-scan i's row), ``starts``/``ends`` (bscans, 2) in mm on the localizer, B-scan 0 at the top of ``box``."""
    x0, y0, x1, y1 = box
    rows = np.linspace(y0, y1, bscans)
    cols = np.arange(x0, x1 + 1)
    below = np.floor(rows).astype(int)
    above = np.minimum(below + 1, image.shape[0] - 1)
    frac = (rows - below)[:, None]
    f = image.astype(np.float64)
    enface = np.rint((1 - frac) * f[below][:, cols] + frac * f[above][:, cols]).astype(np.uint8)
    starts = np.stack([np.full(bscans, float(x0)), rows], 1) * PIXEL_MM
    ends = np.stack([np.full(bscans, float(x1)), rows], 1) * PIXEL_MM
    return {"localizer": image, "enface": enface, "starts": starts, "ends": ends}


def to_raw(enface: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """(bscans, depth, width) float32 VOL samples whose intensities (eyepy's VOL transform) are ``enface`` (bscans,
    width) uint8 times ``profile`` (depth,) along each A-scan (a profile of mean 1 keeps the en-face picture)."""
    from eyepy.core.utils import to_vol_intensity

    grey = np.clip(enface[:, None, :].astype(np.float32) * profile[None, :, None], 0, 255).astype(np.uint8)
    return to_vol_intensity(grey).astype(np.float32)


def write_heyex_vol(path: Path, scan: dict[str, np.ndarray], raw: np.ndarray | None = None) -> None:
    """HEYEX VOL bytes of ``scan`` (:func:`demo_scan`); ``raw`` (bscans, depth, width) float32 replaces the
    samples (the default: each A-scan's en-face value along its whole depth, :func:`to_raw`)."""
    localizer, enface = scan["localizer"], scan["enface"]
    n, width = enface.shape
    if raw is None:
        raw = to_raw(enface, np.ones(DEPTH, np.float32))
    depth = raw.shape[1]
    distance = float(np.median(np.diff(scan["starts"][:, 1]))) if n > 1 else 0.0
    width_mm = float(scan["ends"][0, 0] - scan["starts"][0, 0])
    header = struct.pack(
        "<12s3I3d2I2dId4sQiI16s16sI24sdI24sd4I34s",
        b"HSF-OCT-103", width, n, depth, width_mm / max(width - 1, 1), abs(distance), 0.0039,
        localizer.shape[1], localizer.shape[0], PIXEL_MM, PIXEL_MM, 30, 0.0, b"OD", 0, 3, 256,
        b"1", b"", 0, b"demo", 0.0, 0, b"", 0.0, 0, 0, 0, 0, b"",
    )  # fmt: skip
    parts = [header.ljust(2048, b"\0"), np.ascontiguousarray(localizer, np.uint8).tobytes()]
    for i in range(n):
        bscan = struct.pack(
            "<12sI4d2IfI6f", b"HSF-BS-103", 256, *scan["starts"][i], *scan["ends"][i], 0, 256, 30.0, 0, *([0.0] * 6)
        )
        parts += [bscan.ljust(256, b"\0"), np.ascontiguousarray(raw[i], np.float32).tobytes()]
    path.write_bytes(b"".join(parts))


def write_eye(path: Path, scan: dict[str, np.ndarray]) -> None:
    """``scan`` (:func:`demo_scan`) as eyepy's own ``.eye`` file (samples stored as the en-face values)."""
    import eyepy
    from eyepy.core.eyemeta import EyeBscanMeta, EyeEnfaceMeta, EyeVolumeMeta
    from eyepy.io.utils import _compute_localizer_oct_transform

    localizer, enface = scan["localizer"], scan["enface"]
    data = np.repeat(enface[:, None, :], DEPTH, axis=1)  # uint8: eyepy's default intensity transform keeps it
    bscan_meta = [
        EyeBscanMeta(start_pos=tuple(s), end_pos=tuple(e), pos_unit="mm")
        for s, e in zip(scan["starts"], scan["ends"], strict=True)
    ]
    meta = EyeVolumeMeta(scale_x=PIXEL_MM, scale_y=0.0039, scale_z=PIXEL_MM, scale_unit="mm", bscan_meta=bscan_meta)
    loc_meta = EyeEnfaceMeta(scale_x=PIXEL_MM, scale_y=PIXEL_MM, scale_unit="mm", field_size=30, scan_focus=0.0,
                             laterality="OD")  # fmt: skip
    transform = _compute_localizer_oct_transform(meta, loc_meta, data.shape)
    volume = eyepy.EyeVolume(data, meta=meta, localizer=eyepy.EyeEnface(localizer, loc_meta), transformation=transform)
    volume.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the volume to write: .vol (HEYEX VOL) or .eye (eyepy)")
    parser.add_argument("--image", type=Path, default=SAMPLE_MOVING, help="the image the volume reproduces")
    parser.add_argument("--bscans", type=int, default=97, help="number of B-scans (default 97, a dense Spectralis)")
    parser.add_argument("--box", default=None, help="x0,y0,x1,y1 of the scanned area (default: the central 70 %%)")
    args = parser.parse_args(argv)
    import cv2

    image = cv2.imread(str(args.image), cv2.IMREAD_GRAYSCALE)
    if image is None:
        print(f"error: {args.image}: not a readable image", file=sys.stderr)
        return 2
    h, w = image.shape
    box = tuple(int(v) for v in args.box.split(",")) if args.box else (
        round(0.15 * w), round(0.15 * h), round(0.85 * w), round(0.85 * h))  # fmt: skip
    if len(box) != 4 or not (0 <= box[0] < box[2] < w and 0 <= box[1] < box[3] < h) or args.bscans < 2:
        print(f"error: --box {box} must lie inside the {w}x{h} image, with at least 2 B-scans", file=sys.stderr)
        return 2
    scan = demo_scan(image, box, args.bscans)  # type: ignore[arg-type]
    suffix = args.out.suffix.lower()
    if suffix not in (".vol", ".eye"):
        print(f"error: {args.out}: the volume must end in .vol or .eye", file=sys.stderr)
        return 2
    tmp = args.out.with_name(f".{args.out.name}.tmp{suffix}")
    (write_heyex_vol if suffix == ".vol" else write_eye)(tmp, scan)
    tmp.replace(args.out)
    print(f"{args.out}: {args.bscans} B-scans of {box[2] - box[0] + 1}x{DEPTH} over {box} of {args.image.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
