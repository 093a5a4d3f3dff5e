"""The thumbnails of a benchmark report: checkerboard and overlay of each shown (method, case), kept in
OUT/report_images/.

They show the control points (fixed in white, the estimate's mapping of the moving ones in yellow), are rendered once,
when the run that has the source finishes, and are kept under a name derived from the case, its transform, the method
and the estimated matrix, so a changed result never reuses an old picture. A case without a stored thumbnail (for
instance cases shown only after ``--report-only --report-worst`` asks for more than the run rendered) is shown without
pictures. The run deletes thumbnails its report does not show, so the folder holds only the current ones.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from vreg_cli.benchmark.evaluate import MATRIX_COLUMNS

__all__ = ["estimated_matrix", "remove_unused_thumbs", "render_missing_thumbs", "thumb_paths"]


_IMAGE_DIR = "report_images"
_THUMB_SIDE = 340  # stored long side (px); shown at half that, sharp on high-density screens
_MAX_DRAWN_POINTS = 60


def estimated_matrix(row: pd.Series) -> np.ndarray | None:
    """The 3x3 matrix a case's row holds, or None when the method returned none."""
    m = np.array([float(row[c]) for c in MATRIX_COLUMNS], np.float64).reshape(3, 3)
    return m if np.all(np.isfinite(m)) else None


def _thumb_stem(row: pd.Series) -> str:
    """File stem of a (method, case) thumbnail: readable prefix + crc32 of everything that defines the picture."""
    key = "|".join(
        str(row[c]) for c in ("method", "method_spec", "case_id", "angle", "scale", "shift_x", "shift_y", "status")
    )
    key += "|" + ",".join(f"{float(row[c]):.6g}" for c in MATRIX_COLUMNS)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{row['method']}-{row['case_id']}")[:80]
    return f"{readable}-{zlib.crc32(key.encode('utf-8')):08x}"


def thumb_paths(out_dir: Path, row: pd.Series) -> tuple[Path, Path]:
    """(checkerboard, overlay) thumbnail paths of a (method, case) row."""
    stem = out_dir / _IMAGE_DIR / _thumb_stem(row)
    return stem.with_name(stem.name + "_cb.jpg"), stem.with_name(stem.name + "_ov.jpg")


def _small(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A _THUMB_SIDE px RGB thumbnail and the exact 3x3 map from the image's pixels to the thumbnail's."""
    from vreg_cli.io import resize_long_side, to_rgb

    return resize_long_side(to_rgb(image), _THUMB_SIDE)


def _draw_points(canvas: np.ndarray, to_thumb: np.ndarray, fixed_pts: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """Control points on a thumbnail: fixed ones white, the estimate's mapping of the moving ones yellow, joined.
    At most _MAX_DRAWN_POINTS (an even subset) so that a grid of hundreds of points stays legible."""
    if len(fixed_pts) > _MAX_DRAWN_POINTS:
        keep = np.linspace(0, len(fixed_pts) - 1, _MAX_DRAWN_POINTS).round().astype(int)
        fixed_pts, mapped = fixed_pts[keep], mapped[keep]
    from vreg_cli.geometry import warp_points

    out = canvas.copy()
    for p, q in zip(warp_points(to_thumb, fixed_pts), warp_points(to_thumb, mapped), strict=True):
        p16 = tuple(int(round(v * 16)) for v in p)
        q16 = tuple(int(round(v * 16)) for v in q)
        cv2.line(out, p16, q16, (255, 220, 0), 1, cv2.LINE_AA, shift=4)
        cv2.circle(out, p16, 2 * 16, (255, 255, 255), -1, cv2.LINE_AA, shift=4)
        cv2.circle(out, q16, 2 * 16, (255, 220, 0), -1, cv2.LINE_AA, shift=4)
    return out


def _render_thumbs(out_dir: Path, data: Any, row: pd.Series) -> None:
    """Write the two thumbnails of one (method, case): checkerboard and overlay of the estimate (with the control
    points), or the fixed image and the presented moving image when the method returned no matrix.

    data: the case's ``CaseData`` (fixed (H, W[, 3]), moving, pts_fixed (N, 2), pts_moving (N, 2)).
    """
    from vreg_cli.geometry import warp_points
    from vreg_cli.io import write_image
    from vreg_cli.registration import warp_moving
    from vreg_cli.viz import checkerboard, overlay

    cb_path, ov_path = thumb_paths(out_dir, row)
    m = estimated_matrix(row)
    if m is None:
        left, _ = _small(data.fixed)
        right, _ = _small(data.moving)
    else:
        warped = warp_moving(data.moving, m, data.fixed.shape[:2])
        left, _ = _small(checkerboard(data.fixed, warped))
        right, to_thumb = _small(overlay(data.fixed, warped))
        right = _draw_points(right, to_thumb, np.asarray(data.pts_fixed), warp_points(m, np.asarray(data.pts_moving)))
    write_image(cb_path, left)
    write_image(ov_path, right)


def render_missing_thumbs(out_dir: Path, frame: pd.DataFrame, case_ids: Sequence[str], source: Any, specs: Any) -> None:
    """Render the thumbnails of ``case_ids`` (every method) that OUT/report_images/ lacks, loading each case once
    from ``source``; ``specs``: the run's CaseSpecs (cases not among them are skipped). Shows progress after 1 s."""
    from vreg_cli.ui import progress_after

    by_id = {s.case_id: s for s in specs}
    todo = []
    for cid in case_ids:
        rows = frame[frame["case_id"] == cid]
        need = [r for _, r in rows.iterrows() if not all(p.is_file() for p in thumb_paths(out_dir, r))]
        if need and cid in by_id:
            todo.append((by_id[cid], need))
    with progress_after(len(todo), "report pictures") as advance:
        for spec, need in todo:
            data = source.load(spec)
            for r in need:
                _render_thumbs(out_dir, data, r)
            advance(1)


def remove_unused_thumbs(out_dir: Path, shown: pd.DataFrame) -> None:
    """Delete thumbnails in OUT/report_images/ that the report does not show (e.g. left by an earlier --force run)."""
    keep = {p.name for _, r in shown.iterrows() for p in thumb_paths(out_dir, r)}
    folder = out_dir / _IMAGE_DIR
    for path in folder.glob("*.jpg") if folder.is_dir() else ():
        if path.name not in keep:
            path.unlink()
