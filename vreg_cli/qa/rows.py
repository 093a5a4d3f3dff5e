"""The rows of a batch summary.csv as the QA page shows them: read tolerantly, paths resolved, sorted worst first."""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from vreg_cli.errors import VregError

__all__ = ["PairRow", "STATUS_RANK", "SUMMARY", "load_rows", "picture_keys", "resolve", "worst_first"]


SUMMARY = "summary.csv"
#: status -> rank in the worst-first order (any other status, e.g. a new one, ranks with the errors)
STATUS_RANK = {"error": 0, "failed": 1, "ok": 2}
#: longest readable part of a picture's file stem
_MAX_READABLE = 60


@dataclass(frozen=True)
class PairRow:
    """One summary row: the text fields as written, the numbers parsed (nan where empty or not a number)."""

    fields: dict[str, str]
    key: str  # file stem of the pair's pictures in OUT_DIR/qa/ (see :func:`picture_keys`)

    @property
    def name(self) -> str:
        return self.fields.get("name", "")

    @property
    def status(self) -> str:
        return self.fields.get("status", "") or "error"

    def number(self, column: str) -> float:
        """The column as a float; nan when empty or not a number."""
        try:
            return float(self.fields.get(column, "") or "nan")
        except ValueError:
            return math.nan


def _read_summary_rows(out_dir: Path) -> list[dict[str, str]]:
    """Every complete row of OUT_DIR/summary.csv as {column: text}; VregError (one line) when it is missing or
    unreadable. Columns are taken from the file's header (a missing column reads as ''), so summaries of earlier
    or later vreg versions still show; a row torn by a crash (fewer cells than the header) is dropped."""
    from vreg_cli.csvlog import read_csv_log

    path = out_dir / SUMMARY
    if not path.is_file():
        raise VregError(f"{path}: not found; give the --out-dir of a `vreg register --pairs` batch")
    header, rows = read_csv_log(path, "batch summary")
    if "name" not in header or "status" not in header:
        raise VregError(f"{path}: not a batch summary (needs columns name and status)")
    return rows


def picture_keys(names: list[str]) -> dict[str, str]:
    """Pair name -> a safe, unique file stem for its pictures: the name's letters, digits, ``.``, ``_`` and ``-``
    (at most 60, others become ``_``, no leading dot) plus the crc32 of the whole name, so odd names ('a/b', '..',
    '<script>') stay inside OUT_DIR/qa/ and never collide (a crc32 clash gets ``-2``, ``-3`` ..., in name order)."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(set(names)):
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:_MAX_READABLE].lstrip(".") or "pair"
        base = key = f"{readable}-{zlib.crc32(name.encode('utf-8')):08x}"
        k = 1
        while key.lower() in taken:  # case-insensitive file systems
            k += 1
            key = f"{base}-{k}"
        taken.add(key.lower())
        keys[name] = key
    return keys


def load_rows(out_dir: Path) -> list[PairRow]:
    """The summary's rows with their picture keys, sorted worst first (:func:`worst_first`)."""
    raw = _read_summary_rows(out_dir)
    keys = picture_keys([r.get("name", "") for r in raw])
    return worst_first([PairRow(r, keys[r.get("name", "")]) for r in raw])


def _sort_key(row: PairRow) -> tuple[int, float, float, str]:
    """Errors first, then refusals ('failed'), then ok rows; within each, fewest inliers first (none counts as
    fewest), then the larger mean landmark error, then the name."""
    inliers = row.number("inliers")
    lm_mean = row.number("lm_mean")
    return (
        STATUS_RANK.get(row.status, 0),
        -1.0 if math.isnan(inliers) else inliers,
        0.0 if math.isnan(lm_mean) else -lm_mean,
        row.name,
    )


def worst_first(rows: list[PairRow]) -> list[PairRow]:
    """``rows`` in the page's order (:func:`_sort_key`)."""
    return sorted(rows, key=_sort_key)


def resolve(text: str, out_dir: Path, *, in_out_dir: bool = False) -> Path | None:
    """A path from the summary as a file that exists, else None: absolute as is; relative to the current folder
    (where `vreg register` ran), to OUT_DIR or to OUT_DIR's parent (`vreg register` usually runs beside its
    --out-dir). ``in_out_dir``: a batch output (warped image, transform), also looked for by its name inside
    OUT_DIR, so a batch folder that was moved or copied elsewhere still finds its files."""
    if not text.strip():
        return None
    path = Path(text.strip())
    candidates = [path] if path.is_absolute() else [path, out_dir / path, out_dir.parent / path]
    if in_out_dir:
        candidates.append(out_dir / path.name)
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # a name too long or with a NUL byte
            continue
    return None
