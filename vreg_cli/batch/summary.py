"""OUT_DIR/summary.csv: an append-only log while the batch runs (one row per pair, exactly once), sorted at the end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreg_cli.batch.settings import SUMMARY_COLUMNS
from vreg_cli.csvlog import CsvLog, read_log, write_log

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SummaryLog", "batch_exit_code", "read_summary", "summary_frame"]


def read_summary(path: Path) -> list[dict[str, str]]:
    """The complete rows of a batch summary.csv of this version; [] when there is none."""
    return read_log(path, SUMMARY_COLUMNS, "batch summary.csv", "use another --out-dir")


class SummaryLog:
    """summary.csv as an append-only log: each finished pair's row is written, flushed and synced at once.

    Exactly once per pair: a row whose name is already in the log (a task delivered twice, e.g. run again after its
    worker died) is not written again; :meth:`append` then returns False.
    """

    def __init__(self, path: Path, rows: list[dict[str, Any]]) -> None:
        """Start the file with ``rows`` (atomically: header + the rows kept from an earlier run), then append."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        write_log(path, SUMMARY_COLUMNS, rows)
        self.names: set[str] = {str(r["name"]) for r in rows}
        self._log = CsvLog(path, SUMMARY_COLUMNS)

    def append(self, row: dict[str, Any]) -> bool:
        """Write ``row`` now unless a row of its pair (same name) is already there; True when it was written."""
        name = str(row["name"])
        if name in self.names:
            return False
        self._log.write([row])
        self.names.add(name)
        return True

    def close(self) -> None:
        self._log.close()


def summary_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the summary table: SUMMARY_COLUMNS, sorted by name, counts Int64, measures float (NaN: none)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS).sort_values("name", kind="stable")
    for col in ("matches", "inliers"):  # counts stay integers next to missing values (resumed rows are text)
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in ("inlier_ratio", "rotation_deg", "scale", "seconds", "lm_mean", "lm_median", "lm_max"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.reset_index(drop=True)


def batch_exit_code(frame: pd.DataFrame) -> int:
    """0 when every pair registered; 2 when any pair errored (unreadable, bad layout); else 3 when any was refused."""
    status = set(frame["status"])
    if "error" in status:
        return 2
    if "failed" in status:
        return 3
    return 0
