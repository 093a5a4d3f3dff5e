"""cases.csv as an append-only log: every finished case is written and flushed at once, so an interrupted run loses
nothing done; ``--resume`` reads it back (tolerating a torn last line) and skips what is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from vreg_cli.benchmark.evaluate import COLUMNS
from vreg_cli.csvlog import CsvLog, read_log, write_log

__all__ = ["case_log", "load_frame", "read_rows", "write_rows"]


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a cases.csv (a row with the wrong number of fields, e.g. torn by a crash, is dropped)."""
    return read_log(path, COLUMNS, "cases.csv", "use a new --out or --force")


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the whole file atomically (header + rows)."""
    write_log(path, COLUMNS, rows)


def case_log(path: Path) -> CsvLog:
    """cases.csv opened for appending rows, each flushed to disk at once."""
    return CsvLog(path, COLUMNS)


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
