"""What a registration writes (warped image, transform JSON, pictures) and how it is scored against landmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retinareg.geometry import point_errors
from retinareg.io import write_image, write_json
from retinareg.matches import Matches
from retinareg.paths import check_output_paths, output_group
from retinareg.registration import Registration


@dataclass(frozen=True)
class OutputPaths:
    """Where to write each output; None = not requested."""

    warped: Path | None = None
    transform: Path | None = None
    checkerboard: Path | None = None
    overlay: Path | None = None
    matches: Path | None = None

    @classmethod
    def in_dir(cls, out_dir: Path, name: str, pictures: tuple[str, ...] = ()) -> OutputPaths:
        """Batch naming: DIR/NAME.png, DIR/NAME.json and DIR/NAME_<picture>.png for each requested picture."""
        safe = name.replace("/", "_").replace("\\", "_")
        extra = {p: out_dir / f"{safe}_{p}.png" for p in pictures}
        return cls(out_dir / f"{safe}.png", out_dir / f"{safe}.json", **extra)

    def check(self) -> None:
        """Before any work: every requested path is writable, images have an extension OpenCV writes (VregError)."""
        check_output_paths(
            images=(self.warped, self.checkerboard, self.overlay, self.matches), others=(self.transform,)
        )


def save_outputs(reg: Registration, fixed: np.ndarray, moving: np.ndarray, paths: OutputPaths) -> list[Path]:
    """Write every requested output atomically, all or none (one failure leaves no new file); returns the paths."""
    with output_group():
        return _save_outputs(reg, fixed, moving, paths)


def _save_outputs(reg: Registration, fixed: np.ndarray, moving: np.ndarray, paths: OutputPaths) -> list[Path]:
    from retinareg import viz

    written: list[Path] = []
    warped = reg.warp(moving) if (paths.warped or paths.checkerboard or paths.overlay) else None
    if paths.warped is not None:
        written.append(write_image(paths.warped, warped))
    if paths.transform is not None:
        written.append(write_json(paths.transform, reg.to_dict()))
    if paths.checkerboard is not None:
        written.append(write_image(paths.checkerboard, viz.checkerboard(fixed, warped)))
    if paths.overlay is not None:
        written.append(write_image(paths.overlay, viz.overlay(fixed, warped)))
    if paths.matches is not None:
        written.append(write_image(paths.matches, viz.draw_matches(fixed, moving, reg.matches, reg.matches.inliers)))
    return written


def landmark_errors(reg: Registration, fixed_pts: np.ndarray, moving_pts: np.ndarray) -> dict[str, float]:
    """Mean / median / max distance (fixed-image pixels) between mapped moving landmarks and fixed landmarks.

    fixed_pts, moving_pts: (N, 2) as :func:`retinareg.io.read_landmarks` returns them.
    """
    err = point_errors(reg.matrix, moving_pts, fixed_pts)
    return {"lm_mean": float(err.mean()), "lm_median": float(np.median(err)), "lm_max": float(err.max())}


MATCH_COLUMNS = ("x_fixed", "y_fixed", "x_moving", "y_moving", "confidence", "inlier")


def write_matches(path: str | Path, matches: Matches, inliers: np.ndarray, method: str) -> Path:
    """Write matches (original pixels) as CSV (columns MATCH_COLUMNS) or JSON by the file's extension."""
    import pandas as pd  # here, not at the top: `vreg register` does not pay for pandas

    from retinareg.io import write_csv

    path = Path(path)
    table = np.column_stack([matches.fixed, matches.moving, matches.confidence, np.asarray(inliers, np.float64)])
    frame = pd.DataFrame(table, columns=list(MATCH_COLUMNS)).astype({"inlier": int})
    if path.suffix.lower() == ".json":
        return write_json(
            path,
            {
                "convention": "original-image pixels, 0-based, x right, y down",
                "method": method,
                "count": len(frame),
                "columns": list(MATCH_COLUMNS),
                "matches": [[round(float(v), 3) for v in row[:5]] + [int(row[5])] for row in table],
            },
        )
    return write_csv(path, frame.round({c: 3 for c in MATCH_COLUMNS[:5]}))
