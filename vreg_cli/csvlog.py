"""Reading back the append-only CSV logs (a batch's summary.csv, a benchmark's cases.csv): light to import."""

from __future__ import annotations

import csv
from pathlib import Path

from vreg_cli.errors import VregError


def read_csv_log(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header of an append-only CSV log (a batch summary.csv, a benchmark cases.csv) and its complete rows as
    {column: text}; a row torn by a crash, with another number of cells than the header, is dropped. VregError (one
    line naming ``what``) when the file cannot be read."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None) or []
            return header, [dict(zip(header, r, strict=True)) for r in reader if len(r) == len(header)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise VregError(f"{path}: cannot read the {what} ({exc})") from None
