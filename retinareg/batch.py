"""Batch registration: many pairs, one summary CSV; a bad pair is recorded and the batch goes on."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from retinareg.context import RegistrationContext
from retinareg.data.pairs import PairRecord
from retinareg.errors import VregError
from retinareg.io import check_same_settings, read_registrable, write_csv, write_json
from retinareg.outputs import OutputPaths, batch_stems, landmark_errors, save_outputs
from retinareg.parallel import process_pool
from retinareg.paths import atomic_output

SUMMARY_COLUMNS = [
    "name", "status", "reason", "method", "produced_by", "decision", "matches", "inliers", "inlier_ratio",
    "rotation_deg", "scale", "seconds", "lm_mean", "lm_median", "lm_max", "fixed", "moving", "output", "transform",
]  # fmt: skip


@dataclass(frozen=True)
class BatchSettings:
    """Everything a worker needs to register one pair (picklable)."""

    method_spec: str
    context: RegistrationContext
    out_dir: Path
    pictures: tuple[str, ...] = ()
    force_output: bool = False
    #: pair name -> stem of its output files (``outputs.batch_stems``; run_batch fills it for the whole batch)
    stems: dict[str, str] = dataclasses.field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What defines the batch's results (saved as OUT_DIR/batch.json; --resume must not change it)."""
        return {
            "method": self.method_spec,
            "registration": dataclasses.asdict(self.context),
            "pictures": list(self.pictures),
            "force_output": self.force_output,
        }


def read_pairs_csv(path: str | Path) -> list[PairRecord]:
    """Pairs from a CSV with columns fixed,moving[,name]; relative paths are relative to the CSV's folder."""
    path = Path(path)
    if not path.is_file():
        raise VregError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise VregError(f"{path}: not a readable CSV ({exc})") from None
    if not {"fixed", "moving"} <= set(frame.columns):
        raise VregError(f"{path}: the pairs CSV needs columns fixed,moving[,name] (found {','.join(frame.columns)})")
    records, seen = [], set()
    for i, row in frame.iterrows():
        name = (row.get("name") or "").strip() or Path(row["moving"]).stem or f"pair_{i:04d}"
        if name in seen:  # two pairs must not overwrite each other's outputs
            name = f"{name}_{i:04d}"
        seen.add(name)
        resolve = lambda p: Path(p) if Path(p).is_absolute() else path.parent / p  # noqa: E731
        records.append(PairRecord(name, resolve(row["fixed"].strip()), resolve(row["moving"].strip())))
    return records


_WORKER: dict[str, Any] = {}


def _registrar(settings: BatchSettings) -> Any:
    """One :class:`~retinareg.api.Registrar` per process (LoFTR weights load once), keyed by spec and context."""
    from retinareg.api import Registrar

    key = (settings.method_spec, settings.context)
    if _WORKER.get("key") != key:
        _WORKER.update(key=key, registrar=Registrar(settings.method_spec, context=settings.context))
    return _WORKER["registrar"]


def register_record(record: PairRecord, settings: BatchSettings) -> dict[str, Any]:
    """Register one pair and write its outputs; never raises for a bad pair (the row says what went wrong)."""
    row: dict[str, Any] = {"name": record.name, "fixed": str(record.fixed), "moving": str(record.moving)}
    stem = settings.stems.get(record.name) or batch_stems([record.name], settings.pictures)[record.name]
    paths = OutputPaths.in_dir(settings.out_dir, stem, settings.pictures)
    try:
        paths.check()
        fixed, moving = read_registrable(record.fixed), read_registrable(record.moving)
        registrar = _registrar(settings)
        row["method"] = registrar.describe()
        reg = registrar.register(fixed, moving)
        row.update(produced_by=reg.produced_by, decision=reg.decision)
        if reg.ok:
            row["status"] = "ok"
        else:
            row.update(status="failed", reason=reg.reason, matches=reg.n_matches, inliers=reg.inliers)
            if reg.matrix is None or not settings.force_output:
                return row
        row.update({k: v for k, v in reg.to_dict().items() if k in SUMMARY_COLUMNS and k != "method"})
        if record.fixed_points is not None and record.moving_points is not None:
            row.update(landmark_errors(reg, record.fixed_points, record.moving_points))
        save_outputs(reg, fixed, moving, paths)
        row.update(output=str(paths.warped), transform=str(paths.transform))
    except VregError as exc:
        row.update(status="error", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken pair must not stop the batch; the row keeps the reason
        row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
    return row


def read_summary(path: Path) -> list[dict[str, str]]:
    """The complete rows of a batch summary.csv (a row torn by a crash is dropped); [] when there is none."""
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header != SUMMARY_COLUMNS:
                raise VregError(f"{path}: not a batch summary.csv of this vreg version; use another --out-dir")
            return [dict(zip(SUMMARY_COLUMNS, r, strict=True)) for r in reader if len(r) == len(SUMMARY_COLUMNS)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise VregError(f"{path}: cannot read the batch summary ({exc})") from None


class SummaryLog:
    """summary.csv as an append-only log: each finished pair's row is written, flushed and synced at once."""

    def __init__(self, path: Path, rows: list[dict[str, Any]]) -> None:
        """Start the file with ``rows`` (atomically: header + the rows kept from an earlier run), then append."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        self._fh = path.open("a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")

    def append(self, row: dict[str, Any]) -> None:
        self._writer.writerow(row)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def run_batch(
    records: list[PairRecord],
    settings: BatchSettings,
    summary: Path,
    bad: list[Any] | None = None,
    workers: int = 1,
    resume: bool = False,
) -> pd.DataFrame:
    """Register every record (``workers`` processes) and return the summary (sorted by name).

    Every finished pair is appended to ``summary`` at once, so an interrupted batch (Ctrl-C, a kill) keeps every
    finished row; ``resume`` keeps the earlier run's ``ok`` and ``failed`` rows and registers only the other pairs
    (errored ones are tried again). At the end the file is rewritten sorted by name. ``bad`` lists skipped pairs
    (``(where, reason)`` with ``.name``, or plain tuples) recorded as errors.
    """
    from retinareg.ui import progress

    settings_path = summary.parent / "batch.json"
    described = settings.describe()
    check_same_settings(settings_path, described, resume, "use a new --out-dir, or the same settings")
    write_json(settings_path, described)
    settings = dataclasses.replace(settings, stems=batch_stems([r.name for r in records], settings.pictures))
    names = {r.name for r in records}
    earlier = read_summary(summary) if resume else []
    kept = [r for r in earlier if r["status"] in ("ok", "failed") and r["name"] in names]
    done = {r["name"] for r in kept}
    todo = [r for r in records if r.name not in done]
    rows: list[dict[str, Any]] = list(kept)
    log = SummaryLog(summary, kept)
    try:
        for entry in bad or []:
            where, reason = entry
            name = getattr(entry, "name", where)
            row = {"name": name, "status": "error", "reason": f"{where}: {reason}" if where != name else reason}
            rows.append(row)
            log.append(row)
        with progress() as bar:
            task = bar.add_task("registering", total=len(todo))
            if workers <= 1:
                for record in todo:
                    rows.append(register_record(record, settings))
                    log.append(rows[-1])
                    bar.advance(task)
            else:
                with process_pool(workers) as pool:
                    futures = [pool.submit(register_record, r, settings) for r in todo]
                    for future in cf.as_completed(futures):
                        rows.append(future.result())
                        log.append(rows[-1])
                        bar.advance(task)
    finally:
        log.close()
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS).sort_values("name", kind="stable")
    for col in ("matches", "inliers"):  # counts stay integers next to missing values (resumed rows are text)
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in ("inlier_ratio", "rotation_deg", "scale", "seconds", "lm_mean", "lm_median", "lm_max"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    write_csv(summary, frame)
    return frame


def batch_exit_code(frame: pd.DataFrame) -> int:
    """0 when every pair registered; 2 when any pair errored (unreadable, bad layout); else 3 when any was refused."""
    status = set(frame["status"])
    if "error" in status:
        return 2
    if "failed" in status:
        return 3
    return 0
