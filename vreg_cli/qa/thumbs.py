"""The pictures of the QA page in OUT_DIR/qa/: per pair small thumbnails (checkerboard and overlay of fixed and
warped, or fixed and moving side by side when there is no warped image) and display-size JPEGs for the full-size
view. Linked from the page, never embedded; rendered only when missing or older than the images they show."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PictureJob", "QA_DIR", "SUFFIXES", "remove_unused", "render_pictures", "render_stale"]


QA_DIR = "qa"
#: picture letter -> file suffix. Thumbnails: c checkerboard, o overlay, F fixed, M moving; full-size view (display
#: size): f fixed, w warped moving, m moving as given
SUFFIXES = {"c": "_cb.jpg", "o": "_ov.jpg", "F": "_ft.jpg", "M": "_mt.jpg", "f": "_f.jpg", "w": "_w.jpg", "m": "_m.jpg"}


@dataclass(frozen=True)
class PictureJob:
    """The pictures of one pair: where they go (OUT_DIR/qa/KEY_*.jpg) and the images they show (None: missing)."""

    qa_dir: Path
    key: str
    fixed: Path | None
    moving: Path | None
    warped: Path | None
    thumb_side: int = 240
    display_side: int = 1024
    quality: int = 82

    def path(self, letter: str) -> Path:
        """OUT_DIR/qa/KEY<suffix> of a picture letter; never outside OUT_DIR/qa (the key is a plain file stem)."""
        path = self.qa_dir / f"{self.key}{SUFFIXES[letter]}"
        if path.parent != self.qa_dir or "/" in self.key or "\\" in self.key:
            raise ValueError(f"picture key {self.key!r} leaves {self.qa_dir}")
        return path

    def wanted(self) -> str:
        """The letters this pair should have, given which of its images exist."""
        if self.warped is not None and self.fixed is not None:
            return "cofw"
        return ("Ff" if self.fixed is not None else "") + ("Mm" if self.moving is not None else "")

    def sources(self) -> list[Path]:
        return [p for p in (self.fixed, self.moving, self.warped) if p is not None]

    def is_fresh(self) -> bool:
        """Every wanted picture exists and is newer than every image it is made from (mtime)."""
        try:
            newest = max((p.stat().st_mtime for p in self.sources()), default=0.0)
            return all(self.path(c).stat().st_mtime >= newest for c in self.wanted())
        except OSError:  # a wanted picture is missing (or a source vanished meanwhile)
            return False

    def present(self) -> str:
        """The letters whose picture file exists now (the page shows a placeholder for the others)."""
        return "".join(c for c in self.wanted() if self.path(c).is_file())


def _display(img: np.ndarray, side: int) -> np.ndarray:
    """(H, W[, 3]) -> RGB with long side min(side, max(H, W)) (shrunk, never enlarged)."""
    from vreg_cli.io import resize_long_side, to_rgb

    rgb = to_rgb(img)
    return rgb if max(rgb.shape[:2]) <= side else resize_long_side(rgb, side)[0]


def _write_jpeg(path: Path, img: np.ndarray, quality: int) -> None:
    from vreg_cli.paths import atomic_output
    from vreg_cli.report_html import encode_image

    data = encode_image(img, ".jpg", quality)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def _read(path: Path | None) -> np.ndarray | None:
    """The image, or None when it is missing or unreadable (the page then shows a placeholder)."""
    from vreg_cli.errors import VregError
    from vreg_cli.io import read_image

    if path is None:
        return None
    try:
        return read_image(path)
    except (VregError, OSError, ValueError, cv2.error):
        return None


def render_pictures(job: PictureJob) -> str:
    """Write the pair's pictures that its images allow; returns the letters written. Never raises for a bad image
    (missing, corrupt, too large): those pictures are simply not written."""
    from vreg_cli.viz import checkerboard, overlay

    job.qa_dir.mkdir(parents=True, exist_ok=True)
    made = []
    fixed = _read(job.fixed)
    fixed_d = None if fixed is None else _display(fixed, job.display_side)
    if fixed_d is not None:
        _write_jpeg(job.path("f"), fixed_d, job.quality)
        made.append("f")
    warped = _read(job.warped) if "w" in job.wanted() else None
    if fixed_d is not None and warped is not None:
        h, w = fixed_d.shape[:2]  # the warped image is on the fixed image's grid: same display size, pixel for pixel
        warped_d = cv2.resize(_display(warped, job.display_side), (w, h), interpolation=cv2.INTER_AREA)
        _write_jpeg(job.path("w"), warped_d, job.quality)
        small_f, small_w = _display(fixed_d, job.thumb_side), _display(warped_d, job.thumb_side)
        small_w = cv2.resize(small_w, small_f.shape[1::-1], interpolation=cv2.INTER_AREA)
        _write_jpeg(job.path("c"), checkerboard(small_f, small_w), job.quality)
        _write_jpeg(job.path("o"), overlay(small_f, small_w), job.quality)
        return "".join(made) + "wco"  # f, then the warped display image and the two thumbnails
    if fixed_d is not None and "F" in job.wanted():
        _write_jpeg(job.path("F"), _display(fixed_d, job.thumb_side), job.quality)
        made.append("F")
    moving = _read(job.moving) if "m" in job.wanted() else None
    if moving is not None:
        moving_d = _display(moving, job.display_side)
        _write_jpeg(job.path("m"), moving_d, job.quality)
        _write_jpeg(job.path("M"), _display(moving_d, job.thumb_side), job.quality)
        made += ["m", "M"]
    return "".join(made)


def render_stale(jobs: Iterable[PictureJob], workers: int = 1, advance: Callable[[], None] | None = None) -> None:
    """Render every job (in ``workers`` processes when > 1); ``advance()`` after each."""
    jobs = list(jobs)
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            render_pictures(job)
            if advance:
                advance()
        return
    from vreg_cli.parallel import process_pool

    with process_pool(workers) as pool:
        for future in cf.as_completed([pool.submit(render_pictures, j) for j in jobs]):
            future.result()
            if advance:
                advance()


def remove_unused(qa_dir: Path, keep: set[str]) -> int:
    """Delete OUT_DIR/qa/ pictures (our suffixes only) whose name is not in ``keep``; returns how many."""
    removed = 0
    for path in qa_dir.glob("*.jpg") if qa_dir.is_dir() else ():
        if path.name not in keep and path.name.endswith(tuple(SUFFIXES.values())):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
