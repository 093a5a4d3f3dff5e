"""The Dask engine: each chunk of pairs is one task on a ``dask.distributed`` cluster (one machine or many).

Dask is an optional extra (``pip install 'vreg-cli[dask]'``); it is imported only here and only when used. A task
registers its chunk with the worker process's cached method (``batch.work``), writes each pair's outputs atomically
and returns the rows; the client takes them as they arrive (``as_completed``). A worker that dies mid-task has its
tasks run again elsewhere: the rerun overwrites any outputs the first run wrote, and the client keeps the first row
of each pair (``SummaryLog``), so every pair ends in summary.csv exactly once.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreg_cli.batch.settings import BatchSettings
from vreg_cli.batch.work import error_row, register_chunk
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import VregError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["connect", "dask_rows", "slots"]


_INSTALL_HINT = "pip install 'vreg-cli[dask]'"


def connect(address: str, timeout_s: float = 10.0) -> Client:
    """A Dask client of the scheduler at ``address`` (e.g. ``tcp://10.0.0.5:8786``); VregError (one line) when Dask
    is not installed or the scheduler cannot be reached within ``timeout_s`` seconds."""
    try:
        from distributed import Client
    except ImportError:
        raise VregError(f"--scheduler needs Dask, which is not installed: {_INSTALL_HINT}") from None
    try:
        return Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise VregError(f"cannot reach the Dask scheduler at {address!r} ({reason})") from None


def slots(client: Client) -> int:
    """Worker threads of the cluster now (at least 1: an adaptive cluster may have none yet)."""
    return max(1, sum(client.nthreads().values()))


def _remote(record: PairRecord) -> PairRecord:
    """The record with absolute paths: a worker's working directory need not be the client's."""
    return dataclasses.replace(record, fixed=record.fixed.absolute(), moving=record.moving.absolute())


def _local(row: dict[str, Any], record: PairRecord, settings: BatchSettings) -> dict[str, Any]:
    """A worker's row with the paths as the caller gave them (the same row the local engine writes)."""
    row.update(fixed=str(record.fixed), moving=str(record.moving))
    for key in ("output", "transform"):
        if row.get(key):
            row[key] = str(settings.out_dir / Path(row[key]).name)
    return row


def _lost(chunk: list[PairRecord], exc: BaseException) -> list[dict[str, Any]]:
    """Rows for a chunk whose task failed as a whole (``KilledWorker``: every worker that ran it died)."""
    reason = f"the Dask task failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
    return [error_row(record, reason) for record in chunk]


def dask_rows(
    client: Client, chunks: list[list[PairRecord]], settings: BatchSettings
) -> Generator[list[dict[str, Any]], None, None]:
    """The rows of each chunk as its task finishes on ``client``'s cluster (in finishing order).

    Tasks are impure (each submission runs, two equal chunks are two tasks) and named ``register-<batch>-<i>`` for
    the dashboard. Leaving the loop early (Ctrl-C, an error) cancels the tasks not finished yet.
    """
    from distributed import as_completed

    from vreg_cli.batch.dask_plugin import OneCorePerTask

    client.register_plugin(OneCorePerTask(), name=OneCorePerTask.name)  # workers that join later get it too
    remote = dataclasses.replace(settings, out_dir=settings.out_dir.absolute())
    batch = uuid.uuid4().hex[:8]
    futures: dict[Any, list[PairRecord]] = {}
    for i, chunk in enumerate(chunks):
        task_settings = remote.for_names(r.name for r in chunk)
        future = client.submit(
            register_chunk, [_remote(r) for r in chunk], task_settings, key=f"register-{batch}-{i}", pure=False
        )
        futures[future] = chunk
    try:
        for future in as_completed(list(futures)):
            chunk = futures[future]
            try:
                rows = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost task is recorded per pair; --resume tries them again
                rows = _lost(chunk, exc)
            else:
                rows = [_local(row, record, settings) for row, record in zip(rows, chunk, strict=True)]
            future.release()
            yield rows
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
