"""The pairs of a batch: read from a pairs CSV, or given as (fixed, moving[, name]) tuples or PairRecords."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypeAlias

from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import InputError, VregError

#: what :func:`vreg_cli.register_many` takes as its pairs: a pairs CSV (columns fixed,moving[,name]) or a list of
#: (fixed, moving) / (fixed, moving, name) tuples of paths, or of PairRecords
PairsLike: TypeAlias = "str | os.PathLike[str] | Iterable[PairRecord | tuple[str | os.PathLike[str], ...]]"


def _unique(name: str, index: int, seen: set[str]) -> str:
    """``name``, or ``name_<index>`` when an earlier pair has it (two pairs must not share a summary row)."""
    if name in seen:
        name = f"{name}_{index:04d}"
    seen.add(name)
    return name


def read_pairs_csv(path: str | os.PathLike[str]) -> list[PairRecord]:
    """Pairs from a CSV with columns fixed,moving[,name]; relative paths are relative to the CSV's folder.

    A missing name is the moving file's stem; a repeated name gets ``_<row>`` appended.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise VregError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise VregError(f"{path}: not a readable CSV ({exc})") from None
    if not {"fixed", "moving"} <= set(frame.columns):
        raise VregError(f"{path}: the pairs CSV needs columns fixed,moving[,name] (found {','.join(frame.columns)})")
    records: list[PairRecord] = []
    seen: set[str] = set()
    for i, row in frame.iterrows():
        name = (row.get("name") or "").strip() or Path(row["moving"]).stem or f"pair_{i:04d}"
        fixed, moving = (Path(row[k].strip()) for k in ("fixed", "moving"))
        fixed, moving = (p if p.is_absolute() else path.parent / p for p in (fixed, moving))
        records.append(PairRecord(_unique(name, i, seen), fixed, moving))
    return records


def as_records(pairs: PairsLike) -> list[PairRecord]:
    """Normalise ``pairs`` (see :data:`PairsLike`) to PairRecords with unique names.

    A tuple without a name is named after its moving file's stem. A PairRecord keeps its name (and its landmarks,
    which then give the summary's ``lm_*`` columns). A repeated name gets ``_<index>`` appended, as in a pairs CSV.
    Raises InputError (one line) for anything else.
    """
    if isinstance(pairs, str | os.PathLike):
        if Path(pairs).is_dir():
            raise InputError(f"{pairs}: a folder; give a pairs CSV or a list of pairs (see data.pairs.find_pairs)")
        return read_pairs_csv(pairs)
    if isinstance(pairs, bytes) or not isinstance(pairs, Iterable):
        raise InputError(f"pairs: expected a pairs CSV path or a list of pairs, got {type(pairs).__name__}")
    records: list[PairRecord] = []
    seen: set[str] = set()
    for i, item in enumerate(pairs):
        if isinstance(item, PairRecord):
            records.append(dataclasses.replace(item, name=_unique(item.name, i, seen)))
            continue
        if not isinstance(item, tuple | list) or len(item) not in (2, 3):
            raise InputError(f"pairs[{i}]: expected (fixed, moving) or (fixed, moving, name), got {item!r:.80}")
        if not all(isinstance(p, str | os.PathLike) for p in item[:2]):
            raise InputError(f"pairs[{i}]: fixed and moving must be file paths (workers read the files)")
        if len(item) == 3 and not isinstance(item[2], str):
            raise InputError(f"pairs[{i}]: the name must be a str, got {type(item[2]).__name__}")
        fixed, moving = Path(item[0]), Path(item[1])
        name = (item[2] if len(item) == 3 else "").strip() or moving.stem or f"pair_{i:04d}"
        records.append(PairRecord(_unique(name, i, seen), fixed, moving))
    return records
