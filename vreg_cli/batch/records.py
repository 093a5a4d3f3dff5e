"""The pairs of a batch: read from a pairs CSV, or given as (fixed, moving[, name]) tuples or PairRecords."""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypeAlias, cast

from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import InputError, VregError
from vreg_cli.paths import check_input_file

__all__ = ["MAX_PAIR_NAME_BYTES", "PairsLike", "as_records", "read_pairs_csv"]


#: what :func:`vreg_cli.register_many` takes as its pairs: a pairs CSV (columns fixed,moving[,name]) or a list of
#: (fixed, moving) / (fixed, moving, name) tuples of paths, or of PairRecords
PairsLike: TypeAlias = "str | os.PathLike[str] | Iterable[PairRecord | tuple[str | os.PathLike[str], ...]]"


#: longest pair name (UTF-8 bytes): a name becomes the stem of its output files, and a file name takes 255 bytes
#: with room left for ``-2`` and ``_checkerboard.png``
MAX_PAIR_NAME_BYTES = 200


def _check_name(name: str, where: str) -> str:
    """NAME when it can name a pair: no control characters (a carriage return or newline would split summary.csv's
    row in other readers, and every --resume would run the pair again), at most ``MAX_PAIR_NAME_BYTES``; else
    InputError naming ``where``."""
    bad = next((c for c in name if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if bad is not None:
        raise InputError(f"{where}: the pair name {name[:60]!r} holds the control character {bad!r}; names name files")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_PAIR_NAME_BYTES:
        raise InputError(f"{where}: the pair name is {size} bytes long, over the limit of {MAX_PAIR_NAME_BYTES}")
    return name


def _unique(name: str, index: int, seen: set[str]) -> str:
    """``name``, or ``name_<index>`` when an earlier pair has it (two pairs must not share a summary row)."""
    if name in seen:
        name = f"{name}_{index:04d}"
    seen.add(name)
    return name


def read_pairs_csv(path: str | os.PathLike[str]) -> list[PairRecord]:
    """Pairs from a CSV with columns fixed,moving[,name]; relative paths are relative to the CSV's folder.

    A missing name is the moving file's stem; a repeated name gets ``_<row>`` appended. Read with the csv module
    (100,000 rows in well under a second); one VregError naming the file, or its line, on any problem.
    """
    path = Path(path)
    check_input_file(path, "a pairs CSV")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            if not {"fixed", "moving"} <= set(columns):
                raise VregError(f"{path}: the pairs CSV needs columns fixed,moving[,name] (found {','.join(columns)})")
            reader.fieldnames = columns
            records: list[PairRecord] = []
            seen: set[str] = set()
            for i, row in enumerate(reader):
                cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
                if not any(cells.values()):
                    continue  # a blank line
                name = cells.get("name") or Path(cells["moving"]).stem or f"pair_{i:04d}"
                _check_name(name, f"{path}, row {i + 1}")
                fixed, moving = (Path(cells[k]) for k in ("fixed", "moving"))
                fixed, moving = (p if p.is_absolute() else path.parent / p for p in (fixed, moving))
                records.append(PairRecord(_unique(name, i, seen), fixed, moving))
    except UnicodeDecodeError as exc:
        raise VregError(f"{path}: not a readable CSV (not UTF-8 text at byte {exc.start})") from None
    except csv.Error as exc:
        raise VregError(f"{path}: not a readable CSV ({exc})") from None
    if not records:
        raise VregError(f"{path}: the pairs CSV lists no pairs")
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
            _check_name(item.name, f"pairs[{i}]")
            records.append(dataclasses.replace(item, name=_unique(item.name, i, seen)))
            continue
        if not isinstance(item, tuple | list) or len(item) not in (2, 3):
            raise InputError(f"pairs[{i}]: expected (fixed, moving) or (fixed, moving, name), got {item!r:.80}")
        if not all(isinstance(p, str | os.PathLike) for p in item[:2]):
            raise InputError(f"pairs[{i}]: fixed and moving must be file paths (workers read the files)")
        if len(item) == 3 and not isinstance(item[2], str):
            raise InputError(f"pairs[{i}]: the name must be a str, got {type(item[2]).__name__}")
        fixed, moving = Path(item[0]), Path(item[1])
        name = (cast(str, item[2]) if len(item) == 3 else "").strip() or moving.stem or f"pair_{i:04d}"
        records.append(PairRecord(_unique(_check_name(name, f"pairs[{i}]"), i, seen), fixed, moving))
    return records
