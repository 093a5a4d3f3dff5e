"""Batch registration: many pairs, one summary CSV; a bad pair is recorded and the batch goes on.

One driver for every engine: this process, a local pool of worker processes (``batch.local``) or a Dask cluster
(``batch.dask_engine``). The driver checks the settings against OUT_DIR/batch.json, keeps the rows of an earlier
run on --resume, cuts the rest into chunks, appends each pair's row to summary.csv as it arrives (exactly once per
pair) and finally rewrites summary.csv sorted by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreg_cli.batch.settings import BatchSettings
from vreg_cli.batch.summary import SummaryLog, read_summary, summary_frame
from vreg_cli.batch.work import ERRNO, chunked
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import VregError
from vreg_cli.io import check_same_settings, write_csv, write_json
from vreg_cli.outputs import batch_stems

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

__all__ = ["finish_batch", "run_batch"]


def _bad_rows(bad: list[Any] | None) -> list[dict[str, Any]]:
    """Rows for pairs skipped before the run (``(where, reason)`` with ``.name``, or plain tuples): errors."""
    rows = []
    for entry in bad or []:
        where, reason = entry
        name = getattr(entry, "name", where)
        rows.append({"name": name, "status": "error", "reason": f"{where}: {reason}" if where != name else reason})
    return rows


def _disk_full(row: dict[str, Any]) -> bool:
    """Whether a pair's summary ROW says the disk (or the user's quota) is full: by the OS error number its exception
    carried (``ERRNO``, set by the worker), never by the words of its reason, which hold the pair's paths. (The only
    text read is that of the two failures that carry no errno attribute, in :func:`vreg_cli.paths.failure_errno`.)"""
    return row.get(ERRNO) in (errno.ENOSPC, errno.EDQUOT)


def _append(log: SummaryLog, row: dict[str, Any]) -> bool:
    """``log.append(row)``; a summary that cannot be written (a full disk) is one VregError line."""
    try:
        return log.append(row)
    except OSError as exc:
        raise VregError(
            f"{log.path}: cannot write the summary ({exc.strerror or exc}); free space, then run the same command "
            "with --resume"
        ) from None


def _engine(
    chunks: list[list[PairRecord]], settings: BatchSettings, workers: int, client: Client | None
) -> Generator[list[dict[str, Any]], None, None]:
    """The rows of each chunk as it finishes, from the Dask engine (``client`` given) or the local one."""
    if client is not None:
        from vreg_cli.batch.dask_engine import dask_rows

        return dask_rows(client, chunks, settings)
    from vreg_cli.batch.local import local_rows

    return local_rows(chunks, settings, workers)


def run_batch(
    records: list[PairRecord],
    settings: BatchSettings,
    summary: Path,
    bad: list[Any] | None = None,
    workers: int = 1,
    resume: bool = False,
    client: Client | None = None,
    chunk_size: int | None = None,
) -> pd.DataFrame:
    """Register every record and return the summary (one row per pair, sorted by name).

    Where: ``client`` given, as tasks on its Dask cluster; else ``workers`` processes on this machine (1: in this
    process). Each task registers ``chunk_size`` pairs (None: see :func:`~vreg_cli.batch.work.chunked`).

    Every finished pair is appended to ``summary`` at once, so an interrupted batch (Ctrl-C, a kill) keeps every
    finished row; ``resume`` keeps the earlier run's ``ok`` and ``failed`` rows and registers only the other pairs
    (errored ones are tried again). A pair's row is written once, however often its task ran. At the end the file is
    rewritten sorted by name. ``bad`` lists skipped pairs (``(where, reason)`` with ``.name``, or plain tuples)
    recorded as errors.
    """
    from vreg_cli.ui import progress

    settings_path = summary.parent / "batch.json"
    described = settings.describe()
    check_same_settings(settings_path, described, resume, "use a new --out-dir, or the same settings")
    write_json(settings_path, described)
    settings = dataclasses.replace(settings, stems=batch_stems([r.name for r in records], settings.pictures))
    names = {r.name for r in records}
    earlier = read_summary(summary) if resume else []
    first: dict[str, dict[str, str]] = {}  # the first row of each pair (the log never holds two, older files might)
    for r in earlier:
        if r["status"] in ("ok", "failed") and r["name"] in names:
            first.setdefault(r["name"], r)
    kept = list(first.values())
    done = {r["name"] for r in kept}
    todo = [r for r in records if r.name not in done]
    if resume:
        from vreg_cli.ui import stdout

        stdout.print(
            f"resume: kept {len(kept)} finished pair(s) of {summary}, registering {len(todo)} "
            "(errored pairs are tried again)",
            soft_wrap=True,
        )
    rows: list[dict[str, Any]] = list(kept)
    log = SummaryLog(summary, kept)
    try:
        rows.extend(row for row in _bad_rows(bad) if log.append(row))
        if todo:
            if client is not None:
                from vreg_cli.batch.dask_engine import slots

                n_slots = slots(client)
            else:
                n_slots = workers
            chunks = chunked(todo, chunk_size if client is not None or workers > 1 else 1, n_slots)
            with progress() as bar:
                task = bar.add_task("registering", total=len(todo))
                # closing: leaving early (Ctrl-C, an error) cancels the engine's tasks not finished yet, at once
                with contextlib.closing(_engine(chunks, settings, workers, client)) as engine:
                    for chunk_rows in engine:
                        rows.extend(row for row in chunk_rows if _append(log, row))
                        bar.advance(task, len(chunk_rows))
                        full = next((r for r in chunk_rows if _disk_full(r)), None)
                        if full is not None:  # every further pair would fail the same way: stop, say how to go on
                            raise VregError(
                                f"{summary.parent}: the disk is full (pair {full['name']}: {full['reason']}); "
                                f"{sum(r.get('status') != 'error' for r in rows)} finished pair(s) are kept in "
                                f"{summary.name}: free space, then run the same command with --resume"
                            )
    finally:
        log.close()
    frame = finish_batch(summary, rows)
    if settings.qa_page:
        _write_batch_page(summary.parent)
    return frame


def _write_batch_page(out_dir: Path) -> Path | None:
    """OUT_DIR/index.html, the QA page (:func:`vreg_cli.qa.write_qa_page`); the workers drew the pictures. A page
    that cannot be written is a warning, not a failed batch: every result is in summary.csv (``vreg qa`` retries)."""
    from vreg_cli.errors import VregError
    from vreg_cli.qa import write_qa_page
    from vreg_cli.ui import warn

    try:
        return write_qa_page(out_dir)
    except VregError as exc:
        warn(f"no QA page: {exc}")
        return None


def finish_batch(summary: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The end of every batch (``vreg register --pairs`` and :func:`vreg_cli.register_many`): summary.csv
    rewritten sorted by name; returns that table."""
    frame = summary_frame(rows)
    write_csv(summary, frame)
    return frame
