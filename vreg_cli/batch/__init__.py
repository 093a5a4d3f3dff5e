"""Batch registration (``vreg register --pairs`` and :func:`vreg_cli.register_many`).

- ``records``: the pairs (pairs CSV, tuples, PairRecords); ``settings``: BatchSettings and the summary columns;
- ``work``: what one task does (register pairs, write outputs atomically, return rows), wherever it runs;
- ``summary``: summary.csv as an exactly-once, append-only log; ``run``: the driver of every engine;
- ``local``: this process or a process pool; ``dask_engine``: a Dask cluster (optional extra);
- ``many``: the Python API :func:`register_many`.
"""

from __future__ import annotations

from vreg_cli.batch.records import PairsLike, as_records, read_pairs_csv
from vreg_cli.batch.run import finish_batch, run_batch
from vreg_cli.batch.settings import SUMMARY_COLUMNS, BatchSettings
from vreg_cli.batch.summary import SummaryLog, batch_exit_code, read_summary, summary_frame
from vreg_cli.batch.work import register_chunk, register_record

__all__ = [
    "SUMMARY_COLUMNS", "BatchSettings", "PairsLike", "SummaryLog", "as_records", "batch_exit_code", "finish_batch",
    "read_pairs_csv", "read_summary", "register_chunk", "register_record", "run_batch", "summary_frame",
]  # fmt: skip
