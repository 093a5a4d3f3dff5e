"""cases.csv as an append-only log: every finished case is written and flushed at once, so an interrupted run loses
nothing done; ``--resume`` reads it back (tolerating a torn last line) and skips what is there.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd

from vreg_cli.benchmark.evaluate import COLUMNS
from vreg_cli.csvlog import read_csv_log
from vreg_cli.errors import VregError
from vreg_cli.paths import atomic_output


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a cases.csv (a row with the wrong number of fields, e.g. torn by a crash, is dropped)."""
    if not path.is_file():
        return []
    header, rows = read_csv_log(path, "benchmark cases")
    if header != COLUMNS:
        raise VregError(f"{path}: not a cases.csv of this vreg version (columns differ); use a new --out or --force")
    return rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the whole file atomically (header + rows)."""
    with atomic_output(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class CaseLog:
    """Append rows to cases.csv, flushed to disk one by one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=COLUMNS, extrasaction="ignore")

    def append(self, rows: list[dict[str, Any]]) -> None:
        self._writer.writerows(rows)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CaseLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    """Typed DataFrame of cases.csv rows (booleans and numbers parsed; 'inf' errors stay infinite)."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("sr_me", "sr_mae", "acceptable", "success"):
        frame[col] = frame[col].astype(str) == "True"
    skip = {"method", "method_spec", "case_id", "pair", "modality", "status", "error", "error_scale"}
    skip |= {"sr_me", "sr_mae", "acceptable", "success"}
    for col in COLUMNS:
        if col not in skip:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["bin"] = frame["bin"].astype(int)
    frame["error"] = frame["error"].fillna("")
    return frame
