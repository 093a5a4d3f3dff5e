"""What a registration writes (warped image, transform JSON, pictures) and how it is scored against landmarks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vreg_cli.geometry import point_errors
from vreg_cli.io import write_image, write_json
from vreg_cli.matches import Matches
from vreg_cli.octvolume import OctVolume, bscans_in
from vreg_cli.paths import check_output_paths, output_group
from vreg_cli.registration import Registration

__all__ = ["OutputPaths", "batch_stems", "landmark_errors", "save_outputs", "write_matches"]


@dataclass(frozen=True)
class OutputPaths:
    """Where to write each output; None = not requested."""

    warped: Path | None = None
    transform: Path | None = None
    checkerboard: Path | None = None
    overlay: Path | None = None
    matches: Path | None = None
    #: the fixed image with an OCT volume's B-scan lines (``vreg register --bscans``; the moving image a volume)
    bscans: Path | None = None

    @classmethod
    def in_dir(cls, out_dir: Path, stem: str, pictures: tuple[str, ...] = ()) -> OutputPaths:
        """Batch naming: DIR/STEM.png, DIR/STEM.json and DIR/STEM_<picture>.png for each requested picture.

        ``stem`` comes from :func:`batch_stems`, which keeps every pair's files apart and away from vreg's own."""
        extra = {p: out_dir / f"{stem}_{p}.png" for p in pictures}
        return cls(out_dir / f"{stem}.png", out_dir / f"{stem}.json", **extra)

    def check(self) -> None:
        """Before any work: every requested path is writable, images have an extension OpenCV writes (VregError)."""
        check_output_paths(
            images=(self.warped, self.checkerboard, self.overlay, self.matches, self.bscans),
            others=(self.transform,),
        )


#: stems a pair's outputs never get: batch mode's own files in the output folder (batch.json, summary.csv)
RESERVED_STEMS = frozenset({"batch", "summary"})
#: longest stem (file names stay under the 255-byte limit of common file systems with the picture suffixes)
_MAX_STEM = 180


def _safe_stem(name: str) -> str:
    """A pair name as a file stem: path separators and control characters become ``_`` and a leading dot too (no
    hidden file, nothing that looks like a vreg temporary ``.x.vreg-PID-R.tmp``); at most 180 characters."""
    stem = re.sub(r"[/\\\x00-\x1f]", "_", name)
    if stem.startswith("."):
        stem = "_" + stem[1:]
    return stem[:_MAX_STEM] or "pair"


def _files(stem: str, pictures: tuple[str, ...]) -> list[str]:
    return [f"{stem}.png", f"{stem}.json", *(f"{stem}_{p}.png" for p in pictures)]


def batch_stems(names: list[str], pictures: tuple[str, ...] = ()) -> dict[str, str]:
    """Pair name -> the stem of its output files, one set of files per pair, always.

    Names that map to the same files (``a/b`` and ``a_b``; ``x`` with ``--checkerboard`` and ``x_checkerboard``; names
    that differ only in case, for case-insensitive file systems) and reserved names (``batch`` would overwrite
    batch.json) get a ``-2``, ``-3`` ... suffix, in name order, so a resumed batch gets the same stems; a name with a
    leading dot (hidden, or looking like a vreg temporary file) starts with ``_`` instead. The summary's ``output``
    and ``transform`` columns say where each pair went.
    """
    taken: set[str] = set()

    def clashes(stem: str) -> bool:
        return stem.lower() in RESERVED_STEMS or any(f.lower() in taken for f in _files(stem, pictures))

    stems: dict[str, str] = {}
    for name in sorted(set(names)):
        base = stem = _safe_stem(name)
        k = 1
        while clashes(stem):
            k += 1
            stem = f"{base}-{k}"
        taken.update(f.lower() for f in _files(stem, pictures))
        stems[name] = stem
    return stems


def save_outputs(
    reg: Registration, fixed: np.ndarray, moving: np.ndarray, paths: OutputPaths, volume: OctVolume | None = None
) -> list[Path]:
    """Write every requested output atomically, all or none (one failure leaves no new file); returns the paths.

    ``volume``: the OCT volume ``moving`` is a picture of: the transform JSON then says which picture and lists
    each B-scan's end points in fixed pixels (``moving_image``), and ``paths.bscans`` draws them.
    """
    with output_group():
        return _save_outputs(reg, fixed, moving, paths, volume)


def _save_outputs(
    reg: Registration, fixed: np.ndarray, moving: np.ndarray, paths: OutputPaths, volume: OctVolume | None
) -> list[Path]:
    from vreg_cli import viz

    written: list[Path] = []
    warped = reg.warp(moving) if (paths.warped or paths.checkerboard or paths.overlay) else None
    if paths.warped is not None:
        assert warped is not None  # computed above for each of these three outputs
        written.append(write_image(paths.warped, warped))
    if paths.transform is not None:
        described = reg.to_dict()
        if volume is not None:
            described["moving_image"] = volume.describe(reg.matrix)
        written.append(write_json(paths.transform, described))
    if paths.checkerboard is not None:
        assert warped is not None
        written.append(write_image(paths.checkerboard, viz.checkerboard(fixed, warped)))
    if paths.overlay is not None:
        assert warped is not None
        written.append(write_image(paths.overlay, viz.overlay(fixed, warped)))
    if paths.matches is not None:
        written.append(write_image(paths.matches, viz.draw_matches(fixed, moving, reg.matches, reg.matches.inliers)))
    if paths.bscans is not None:
        assert volume is not None and reg.matrix is not None  # the command line asks for it with a volume only
        h, w = moving.shape[:2]
        border = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
        lines = bscans_in(reg.matrix, volume.bscan_lines)
        written.append(write_image(paths.bscans, viz.draw_bscans(fixed, lines, reg.map_points(border))))
    return written


def landmark_errors(reg: Registration, fixed_pts: np.ndarray, moving_pts: np.ndarray) -> dict[str, float]:
    """Mean / median / max distance (fixed-image pixels) between mapped moving landmarks and fixed landmarks.

    fixed_pts, moving_pts: (N, 2) as :func:`vreg_cli.io.read_landmarks` returns them.
    """
    assert reg.matrix is not None  # callers ask only for a result with a matrix
    err = point_errors(reg.matrix, moving_pts, fixed_pts)
    return {"lm_mean": float(err.mean()), "lm_median": float(np.median(err)), "lm_max": float(err.max())}


MATCH_COLUMNS = ("x_fixed", "y_fixed", "x_moving", "y_moving", "confidence", "inlier")


def write_matches(path: str | Path, matches: Matches, inliers: np.ndarray, method: str) -> Path:
    """Write matches (original pixels) as CSV (columns MATCH_COLUMNS) or JSON by the file's extension."""
    import pandas as pd  # here, not at the top: `vreg register` does not pay for pandas

    from vreg_cli.io import write_csv

    path = Path(path)
    table = np.column_stack([matches.fixed, matches.moving, matches.confidence, np.asarray(inliers, np.float64)])
    frame = pd.DataFrame(table, columns=list(MATCH_COLUMNS)).astype({"inlier": int})
    if path.suffix.lower() == ".json":
        return write_json(
            path,
            {
                "convention": "original-image pixels, 0-based, x right, y down",
                "method": method,
                "produced_by": matches.info.produced_by,
                "decision": matches.info.decision,
                "count": len(frame),
                "columns": list(MATCH_COLUMNS),
                "matches": [[round(float(v), 3) for v in row[:5]] + [int(row[5])] for row in table],
            },
        )
    return write_csv(path, frame.round({c: 3 for c in MATCH_COLUMNS[:5]}))
