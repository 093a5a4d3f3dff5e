"""The work of one task, wherever it runs (this process, a pool worker, a Dask worker): register pairs, write their
outputs atomically, return their summary rows. Nothing here raises for a bad pair: its row says what went wrong."""

from __future__ import annotations

import threading
from typing import Any

from vreg_cli.batch.settings import SUMMARY_COLUMNS, BatchSettings
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import OutputError, VregError
from vreg_cli.io import read_registrable
from vreg_cli.outputs import OutputPaths, batch_stems, landmark_errors, save_outputs

__all__ = ["ERRNO", "chunked", "error_row", "register_chunk", "register_record"]


#: the per-process cache: one Registrar per worker process (a Dask worker's tasks share it across their threads)
_WORKER: dict[str, Any] = {}
_LOCK = threading.Lock()

#: the key of an error row's OS error number (its exception's ``errno``, e.g. ENOSPC); not a summary column
ERRNO = "errno"


def _registrar(settings: BatchSettings) -> Any:
    """One :class:`~vreg_cli.api.Registrar` per process (LoFTR weights load once), keyed by spec and context.

    The method loads once per worker process, not per task: a Dask worker (or a pool worker) keeps it between the
    chunks it runs. Registrar calls are thread-safe, so a Dask worker with several threads shares one.
    """
    from vreg_cli.api import Registrar

    key = (settings.method_spec, settings.context)
    with _LOCK:
        if _WORKER.get("key") != key:
            _WORKER.update(key=key, registrar=Registrar(settings.method_spec, context=settings.context))
            _WORKER["builds"] = _WORKER.get("builds", 0) + 1  # how often this process loaded a method
        return _WORKER["registrar"]


def register_record(record: PairRecord, settings: BatchSettings) -> dict[str, Any]:
    """Register one pair and write its outputs; never raises for a bad pair (the row says what went wrong).

    Returns the pair's summary row (keys from SUMMARY_COLUMNS, and :data:`ERRNO` in an error row whose exception
    carried an OS error number: the batch stops on a full disk). Its outputs go to ``settings.out_dir`` under the
    stem ``settings.stems[record.name]``, written all or none, so a rerun of the pair (a killed worker's task run
    again) overwrites them cleanly.
    """
    row: dict[str, Any] = {"name": record.name, "fixed": str(record.fixed), "moving": str(record.moving)}
    stem = settings.stems.get(record.name) or batch_stems([record.name], settings.pictures)[record.name]
    paths = OutputPaths.in_dir(settings.out_dir, stem, settings.pictures)
    try:
        paths.check()
        fixed, moving = read_registrable(record.fixed, settings.read), read_registrable(record.moving, settings.read)
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
        _keep_errno(row, exc)
    except Exception as exc:  # noqa: BLE001 - one broken pair must not stop the batch; the row keeps the reason
        row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        _keep_errno(row, exc)
    return row


def _keep_errno(row: dict[str, Any], exc: Exception) -> None:
    """ROW[ERRNO] = the OS error number of EXC (an OSError, or an output that could not be written), when it has one."""
    number = exc.errno if isinstance(exc, (OSError, OutputError)) else None
    if number is not None:
        row[ERRNO] = number


def render_qa_pictures(row: dict[str, Any], settings: BatchSettings) -> None:
    """The pair's QA-page pictures (OUT_DIR/qa/), drawn where the pair was registered, so that the page at the end
    of the batch (:func:`vreg_cli.qa.write_qa_page`) finds them fresh instead of drawing every pair on the client.
    Best effort: a picture that cannot be written is drawn again by the page builder; the row never changes."""
    from vreg_cli.qa.config import QaConfig
    from vreg_cli.qa.page import picture_job
    from vreg_cli.qa.rows import PairRow, picture_keys
    from vreg_cli.qa.thumbs import render_pictures

    fields = {k: str(v) for k, v in row.items() if v is not None}
    pair = PairRow(fields, picture_keys([row["name"]])[row["name"]])
    try:
        render_pictures(picture_job(pair, settings.out_dir, QaConfig()))
    except Exception:  # noqa: BLE001 - pictures are a convenience; the page builder retries and reports
        pass


def register_chunk(records: list[PairRecord], settings: BatchSettings) -> list[dict[str, Any]]:
    """One task: register ``records`` one after the other (the method loads once per process) and draw each pair's
    QA pictures; their rows, in order."""
    rows = []
    for record in records:
        rows.append(register_record(record, settings))
        if settings.qa_page:
            render_qa_pictures(rows[-1], settings)
    return rows


def error_row(record: PairRecord, reason: str) -> dict[str, Any]:
    """The summary row of a pair whose task could not run (e.g. every Dask worker that tried it died)."""
    return {"name": record.name, "status": "error", "reason": reason, "fixed": str(record.fixed),
            "moving": str(record.moving)}  # fmt: skip


def chunked(records: list[PairRecord], chunk_size: int | None, slots: int) -> list[list[PairRecord]]:
    """``records`` cut into tasks of ``chunk_size`` pairs; None: about four tasks per slot (worker thread), 1 to 8
    pairs each, so that the slots stay busy to the end and a lost task costs little."""
    if chunk_size is None:
        chunk_size = min(8, max(1, len(records) // (4 * max(1, slots))))
    if chunk_size < 1:
        raise VregError(f"the chunk size must be at least 1, got {chunk_size}")
    return [records[i : i + chunk_size] for i in range(0, len(records), chunk_size)]
