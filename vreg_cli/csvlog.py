"""Append-only CSV logs (a batch's summary.csv, a benchmark's cases.csv): written row by row, read back tolerantly.

A row is flushed and synced as soon as it is written, so a run that is killed keeps every finished row; reading back
drops a row torn by the kill (another number of cells than the header). Light to import (no numpy, no pandas).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.paths import atomic_output

__all__ = ["CsvLog", "read_csv_log", "read_log", "write_log"]


def read_csv_log(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header of an append-only CSV log and its complete rows as {column: text}; a row torn by a crash, with
    another number of cells than the header, is dropped. VregError (one line naming ``what``) when the file cannot be
    read."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None) or []
            return header, [dict(zip(header, r, strict=True)) for r in reader if len(r) == len(header)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise VregError(f"{path}: cannot read the {what} ({exc})") from None


def read_log(path: Path, columns: Sequence[str], what: str, hint: str) -> list[dict[str, str]]:
    """The complete rows of a log written with exactly ``columns``; [] when there is none. A file with other columns
    (another vreg version, another kind of file) is a VregError: ``<path>: not a <what> of this vreg version; <hint>``.
    """
    if not path.is_file():
        return []
    header, rows = read_csv_log(path, what)
    if header != list(columns):
        raise VregError(f"{path}: not a {what} of this vreg version (columns differ); {hint}")
    return rows


def write_log(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Rewrite the whole log atomically: the header, then ``rows`` (keys outside ``columns`` are ignored)."""
    with atomic_output(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class CsvLog:
    """Appends rows to an existing log, each flushed and synced to disk at once; a context manager."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self._fh = path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=list(columns), extrasaction="ignore")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append ``rows`` and sync them to disk."""
        self._writer.writerows(rows)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
