"""The local engine (no Dask needed): the pairs in this process, or chunks of them in a pool of worker processes."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Generator
from typing import Any

from vreg_cli.batch.settings import BatchSettings
from vreg_cli.batch.work import register_chunk
from vreg_cli.data.pairs import PairRecord

__all__ = ["local_rows"]


def local_rows(
    chunks: list[list[PairRecord]], settings: BatchSettings, workers: int
) -> Generator[list[dict[str, Any]], None, None]:
    """The rows of each chunk as it finishes: ``workers`` <= 1 registers pair by pair in this process (one row at a
    time), more runs each chunk as a task in a pool of that many spawned processes (``vreg_cli.parallel``)."""
    if workers <= 1:
        for chunk in chunks:
            for record in chunk:
                yield register_chunk([record], settings)
        return
    from vreg_cli.parallel import process_pool

    with process_pool(workers) as pool:
        futures = [pool.submit(register_chunk, chunk, settings.for_names(r.name for r in chunk)) for chunk in chunks]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        finally:  # Ctrl-C or an error: the chunks not started yet are dropped, not run to the end
            for future in futures:
                future.cancel()
