"""Batch registration (``vreg register --pairs`` and :func:`retinareg.register_many`).

- ``records``: the pairs (pairs CSV, tuples, PairRecords); ``settings``: BatchSettings and the summary columns;
- ``work``: what one task does (register pairs, write outputs atomically, return rows), wherever it runs;
- ``summary``: summary.csv as an exactly-once, append-only log; ``run``: the driver of every engine;
- ``local``: this process or a process pool; ``dask_engine``: a Dask cluster (optional extra);
- ``many``: the Python API :func:`register_many`.
"""

from __future__ import annotations

from retinareg.batch.records import PairsLike, as_records, read_pairs_csv
from retinareg.batch.run import finish_batch, run_batch
from retinareg.batch.settings import SUMMARY_COLUMNS, BatchSettings
from retinareg.batch.summary import SummaryLog, batch_exit_code, read_summary, summary_frame
from retinareg.batch.work import register_chunk, register_record

__all__ = [
    "SUMMARY_COLUMNS", "BatchSettings", "PairsLike", "SummaryLog", "as_records", "batch_exit_code", "finish_batch",
    "read_pairs_csv", "read_summary", "register_chunk", "register_record", "run_batch", "summary_frame",
]  # fmt: skip
