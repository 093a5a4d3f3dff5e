"""Train/val/test assignment: seeded fractions, or an explicit split file.

Split file format: a CSV with the header ``id,split`` and one row per sample, ``split`` being train, val or
test. Every packed sample must be listed; ids in the file that are not in the source are ignored with a
warning (e.g. samples skipped with --skip-bad).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from vreg_cli.data.h5 import SPLITS
from vreg_cli.errors import VregError
from vreg_cli.ui import warn

__all__ = ["assign_splits", "parse_fractions", "read_split_file"]


def parse_fractions(split: tuple[float, ...] | list[float] | str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' or a 3-sequence -> (train, val, test); non-negative and summing to 1 (+-1e-6)."""
    if isinstance(split, str):
        try:
            values = [float(v) for v in split.split(",")]
        except ValueError:
            raise VregError(f"--split {split!r}: expected three numbers like 0.8,0.1,0.1") from None
    else:
        values = [float(v) for v in split]
    if len(values) != 3 or not all(0 <= v <= 1 for v in values) or not abs(sum(values) - 1.0) <= 1e-6:
        raise VregError(f"--split {split!r}: need three non-negative fractions (train,val,test) summing to 1")
    return values[0], values[1], values[2]


def read_split_file(path: str | os.PathLike) -> dict[str, str]:
    """Read a CSV ``id,split`` file into {id: split}; one VregError naming the file and line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise VregError(f"{path}: no such split file")
    assigned: dict[str, str] = {}
    try:
        return _read_split_rows(path, assigned)
    except UnicodeDecodeError as exc:
        raise VregError(f"{path}: a split file must be UTF-8 text (CSV 'id,split'); byte {exc.start} is not") from None
    except csv.Error as exc:
        raise VregError(f"{path}: not a readable CSV split file ({exc})") from None


def _read_split_rows(path: Path, assigned: dict[str, str]) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"id", "split"} <= {c.strip() for c in reader.fieldnames}:
            raise VregError(f"{path}: a split file needs the CSV header 'id,split'")
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            sample_id, split = row["id"], row["split"]
            if split not in SPLITS:
                raise VregError(f"{path}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
            if sample_id in assigned:
                raise VregError(f"{path}:{line}: id {sample_id!r} listed twice")
            assigned[sample_id] = split
    if not assigned:
        raise VregError(f"{path}: the split file lists no samples")
    return assigned


def assign_splits(
    ids: list[str],
    fractions: tuple[float, float, float],
    seed: int,
    assigned: dict[str, str] | None = None,
) -> list[str]:
    """Split label per id, in the order of ``ids``.

    From a split file when given; else a seeded permutation cut at round(train * n) and round(val * n), so
    the same ids, fractions and seed always give the same labels.
    """
    if assigned is not None:
        missing = [i for i in ids if i not in assigned]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise VregError(f"split file does not list {', '.join(missing[:3])}{more}")
        extra = set(assigned) - set(ids)
        if extra:
            warn(f"split file lists {len(extra)} id(s) not packed (e.g. {sorted(extra)[0]}); ignored")
        return [assigned[i] for i in ids]
    n = len(ids)
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions[0] * n)
    n_val = min(n - n_train, round(fractions[1] * n))
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_val]] = "val"
    labels[order[n_train + n_val :]] = "test"
    return [str(v) for v in labels]
