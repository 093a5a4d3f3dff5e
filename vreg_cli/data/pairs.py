"""Real annotated pairs (fixed, moving, corresponding control points) found through a declarative pairs spec.

A pairs spec is a TOML file with ``kind = "pairs"`` (bundled: ``landmarks-csv``, ``numbered-pairs`` in data_specs/):

- ``fixed``: list of globs relative to the root; every match is the fixed image of one pair (``**`` = any depth).
- ``fixed_suffix``: the end of the fixed file name that is cut off to give ``{base}`` (``"_01.png"``).
- ``moving``: template of the moving image path, or a list of them (the first that exists: ``moving.png``, else
  ``moving.dcm``, else an OCT volume ...); ``name``: template of the pair name.
  Templates may use ``{dir}`` (folder of the fixed image), ``{base}`` and ``{rel}`` (that folder relative to the root).
- ``[points]`` (optional): ``format = "csv"`` with ``file`` and ``columns`` (x_fixed, y_fixed, x_moving, y_moving
  column names, in that order), or ``format = "xy-lines"`` with ``fixed_file`` and ``moving_file`` (one "x y" per
  line, same order and count); ``required`` (default true) makes a pair without its points a bad pair.

Points are 0-based pixels (x right, y down). Every pair is validated: the moving image exists, both images are readable,
the point files parse, the two sides have the same count, at least 3 points, every point inside its image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vreg_cli.data.config import DEFAULT_LAYOUT
from vreg_cli.errors import VregError
from vreg_cli.io import LANDMARK_COLUMNS, BadTable, read_landmarks
from vreg_cli.read_options import ReadOptions
from vreg_cli.specs import check_glob, format_template, load_spec

__all__ = ["DEFAULT_LAYOUT", "PairRecord", "find_pairs", "image_hw"]


MIN_POINTS = 3
# A point may sit on the outer half of an edge pixel (pixel centres are integers, edges at -0.5 and W - 0.5).
EDGE_TOLERANCE = 0.5


@dataclass(frozen=True)
class PairRecord:
    """One real pair. fixed_points / moving_points: (N, 2) float64 pixel coordinates, or None without points."""

    name: str
    fixed: Path
    moving: Path
    fixed_points: np.ndarray | None = None
    moving_points: np.ndarray | None = None


class BadPair(Exception):
    """Internal: one pair that fails validation (file, reason); ``name`` is the pair's name once known."""

    def __init__(self, where: Path | str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = str(where), reason
        self.name: str | None = None


@dataclass(frozen=True)
class BadEntry:
    """A skipped pair: unpacks (and indexes) as ``(where, reason)``; ``name`` is the pair name batch rows use."""

    where: str
    reason: str
    name: str

    def __iter__(self) -> Iterator[str]:
        return iter((self.where, self.reason))

    def __getitem__(self, index: int) -> str:
        return (self.where, self.reason)[index]


def image_hw(path: Path, read: ReadOptions | None = None) -> tuple[int, int]:
    """(H, W) of an image, from its header when possible (cheap, :func:`vreg_cli.io.image_hw`), else by decoding it
    (a DICOM frame or an OCT volume's picture as ``read`` chooses)."""
    if not path.is_file():
        raise BadPair(path, "no such file")
    from vreg_cli.io import image_hw as io_image_hw

    try:
        return io_image_hw(path, read)
    except VregError as exc:
        raise BadPair(path, str(exc).removeprefix(f"{path}: ")) from None


def _parse_xy_lines(path: Path) -> np.ndarray:
    """One "x y" (or "x,y" / tab separated) per line -> (N, 2); blank lines and '#' comments are skipped."""
    if not path.is_file():
        raise BadPair(path, "missing point file")
    pts = []
    for lineno, raw in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").split()
        try:
            if len(fields) != 2:
                raise ValueError
            x, y = float(fields[0]), float(fields[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError
            pts.append((x, y))
        except ValueError:
            raise BadPair(f"{path}:{lineno}", f"cannot parse {raw.strip()!r} as finite 'x y'") from None
    return np.asarray(pts, np.float64).reshape(-1, 2)


def _parse_csv(path: Path, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A landmarks table with a header -> (fixed (N, 2), moving (N, 2)); problems are a BadPair."""
    try:
        return read_landmarks(path, columns)
    except BadTable as exc:
        raise BadPair(exc.where, exc.reason) from None


def _check_inside(points: np.ndarray, hw: tuple[int, int], source: Path, image: Path) -> None:
    h, w = hw
    t = EDGE_TOLERANCE
    bad = (points[:, 0] < -t) | (points[:, 0] > w - 1 + t) | (points[:, 1] < -t) | (points[:, 1] > h - 1 + t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        x, y = points[i]
        raise BadPair(
            source, f"point {i + 1} ({x:g}, {y:g}) lies outside {image.name} ({w}x{h}); {int(bad.sum())} such point(s)"
        )


def _fmt(template: str, fields: dict[str, str]) -> str:
    return format_template(template, fields, "pairs layout")


def _load_points(spec_points: dict[str, Any], fields: dict[str, str]) -> tuple[Any, ...]:
    """(fixed (N, 2), moving (N, 2), fixed source file, moving source file), all None when optional and absent."""
    fmt = spec_points.get("format", "csv")
    if fmt == "csv":
        path = Path(_fmt(spec_points.get("file", "{dir}/landmarks.csv"), fields))
        columns = list(spec_points.get("columns", LANDMARK_COLUMNS))
        if not path.is_file() and not spec_points.get("required", True):
            return None, None, None, None
        fixed, moving = _parse_csv(path, columns)
        return fixed, moving, path, path
    if fmt == "xy-lines":
        fpath = Path(_fmt(spec_points["fixed_file"], fields))
        mpath = Path(_fmt(spec_points["moving_file"], fields))
        if not spec_points.get("required", True) and not fpath.is_file() and not mpath.is_file():
            return None, None, None, None
        fixed, moving = _parse_xy_lines(fpath), _parse_xy_lines(mpath)
        if len(fixed) != len(moving):
            raise BadPair(mpath, f"{len(moving)} points but {fpath.name} has {len(fixed)} (need the same count)")
        return fixed, moving, fpath, mpath
    raise VregError(f"pairs layout: unknown points format {fmt!r} (expected 'csv' or 'xy-lines')")


def _make_record(root: Path, fixed: Path, spec: dict[str, Any], read: ReadOptions | None = None) -> PairRecord:
    suffix = spec.get("fixed_suffix", "")
    base = fixed.name[: -len(suffix)] if suffix and fixed.name.endswith(suffix) else fixed.stem
    rel = os.path.relpath(fixed.parent, root)
    fields = {"dir": str(fixed.parent), "base": base, "rel": rel}
    name = str(PurePosixPath(_fmt(spec.get("name", "{rel}/{base}"), fields).replace(os.sep, "/")))
    if name == ".":
        name = root.resolve().name
    try:
        return _check_record(name, fixed, fields, spec, read)
    except BadPair as exc:
        exc.name = name
        raise


def _check_record(
    name: str, fixed: Path, fields: dict[str, str], spec: dict[str, Any], read: ReadOptions | None = None
) -> PairRecord:
    templates = [spec["moving"]] if isinstance(spec["moving"], str) else list(spec["moving"])
    candidates = [Path(_fmt(t, fields)) for t in templates]
    moving = next((c for c in candidates if c.is_file()), candidates[0])
    if not moving.is_file():
        raise BadPair(fixed, f"has no moving image {' or '.join(c.name for c in candidates)} beside it")
    fixed_hw, moving_hw = image_hw(fixed, read), image_hw(moving, read)
    fpts = mpts = None
    if "points" in spec:
        fpts, mpts, fsource, msource = _load_points(spec["points"], fields)
        if fpts is not None:
            if len(fpts) < MIN_POINTS:
                raise BadPair(fsource, f"only {len(fpts)} point(s); at least {MIN_POINTS} are needed")
            _check_inside(fpts, fixed_hw, fsource, fixed)
            _check_inside(mpts, moving_hw, msource, moving)
    return PairRecord(name=name, fixed=fixed, moving=moving, fixed_points=fpts, moving_points=mpts)


def find_pairs(
    root: str | os.PathLike, layout: str = DEFAULT_LAYOUT, skip_bad: bool = False, read: ReadOptions | None = None
) -> tuple[list[PairRecord], list[BadEntry]]:
    """Find and validate every pair under ``root`` described by a pairs spec (bundled name or .toml path).

    ``read``: which DICOM frame and which OCT volume picture the points are checked against (None: the defaults).

    Returns (pairs sorted by name, bad) where bad lists BadEntry (unpacks as (file, reason); ``.name``). Without
    ``skip_bad`` the first bad pair raises a VregError naming the file and the reason. No pair at all is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise VregError(f"{root}: no such folder")
    spec, spec_path = load_spec(layout, "pairs")
    if "fixed" not in spec or "moving" not in spec:
        raise VregError(f"{spec_path}: a pairs layout needs 'fixed' (globs) and 'moving' (template)")
    moving = spec["moving"]
    if not (isinstance(moving, str) and moving) and not (
        isinstance(moving, list) and moving and all(isinstance(t, str) and t for t in moving)
    ):
        raise VregError(f"{spec_path}: 'moving' must be a template or a non-empty list of templates (the first found)")
    globs = [spec["fixed"]] if isinstance(spec["fixed"], str) else list(spec["fixed"])
    if not globs or not all(isinstance(g, str) and g for g in globs):
        raise VregError(f"{spec_path}: 'fixed' must be a glob or a non-empty list of globs")
    globs = [check_glob(g, f"{spec_path}: fixed") for g in globs]
    fixed_files = sorted({p for g in globs for p in root.glob(g) if p.is_file()})
    pairs: list[PairRecord] = []
    bad: list[BadEntry] = []
    for fixed in fixed_files:
        try:
            pairs.append(_make_record(root, fixed, spec, read))
        except BadPair as exc:
            if not skip_bad:
                raise VregError(f"{exc.where}: {exc.reason} (use --skip-bad to skip bad pairs)") from None
            bad.append(BadEntry(exc.where, exc.reason, exc.name or str(fixed.relative_to(root))))
    if not pairs:
        detail = f"; {len(bad)} bad pair(s), first: {bad[0][0]}: {bad[0][1]}" if bad else ""
        raise VregError(f"{root}: no pairs in layout {spec_path.stem!r} ({spec.get('description', '')}){detail}")
    names = [p.name for p in pairs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise VregError(f"{root}: several pairs share the name {dupes[0]!r}; adjust the layout's 'name' template")
    return sorted(pairs, key=lambda p: p.name), bad
