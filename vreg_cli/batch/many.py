"""The cohort API: :func:`register_many` registers many pairs into one output folder, here or on a Dask cluster.

>>> import vreg_cli
>>> table = vreg_cli.register_many("pairs.csv", method="classic", out_dir="out", workers=4)
>>> from dask.distributed import Client                      # pip install 'vreg-cli[dask]'
>>> table = vreg_cli.register_many("pairs.csv", out_dir="out", client=Client("tcp://scheduler:8786"))
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreg_cli.batch.records import PairsLike, as_records
from vreg_cli.batch.run import run_batch
from vreg_cli.batch.settings import BatchSettings
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import InputError, VregError
from vreg_cli.limits import CHUNK_SIZE_RANGE, WORKERS_RANGE
from vreg_cli.read_options import ReadOptions

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

__all__ = ["PICTURES", "register_many"]


#: the pictures a batch can write beside each pair's warped image and transform
PICTURES = ("checkerboard", "overlay", "matches")


def register_many(
    pairs: PairsLike,
    method: str = "auto",
    *,
    out_dir: str | os.PathLike[str],
    client: Client | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    chunk_size: int | None = None,
    pictures: Sequence[str] = (),
    force_output: bool = False,
    qa_page: bool = True,
    skipped: Sequence[tuple[str, str]] = (),
    context: RegistrationContext | None = None,
    model: str | None = None,
    working_size: int | None = None,
    read: ReadOptions | None = None,
    **limits: Any,
) -> pd.DataFrame:
    """Register every pair of a cohort into ``out_dir``, as ``vreg register --pairs`` does; returns the summary.

    Args:
        pairs: a pairs CSV (columns fixed,moving[,name]; relative paths from its folder), or a list of
            ``(fixed, moving)`` / ``(fixed, moving, name)`` path tuples or PairRecords (landmarks then give the
            ``lm_*`` columns). A pair's name (default: the moving file's stem) names its outputs, made safe as a file
            name: nothing is written outside ``out_dir``.
        method: a registered method's name (``vreg_cli.available_methods()``), or a spec with options
            (``vreg methods``).
        out_dir: the output folder: ``<stem>.png`` (MOVING warped into the fixed frame), ``<stem>.json`` (the
            transform), the pictures, ``summary.csv`` (one row per pair) and ``batch.json`` (the settings).
        client: a ``dask.distributed.Client``: each chunk of pairs is a task on its cluster (the files must be
            readable and ``out_dir`` writable from every worker). None: on this machine.
        scheduler: instead of a client, the address of a running Dask scheduler (``tcp://HOST:8786``): connected to
            for this batch and closed after it.
        workers: without a client, the number of worker processes (None or 1: in this process).
        resume: keep the ``ok`` / ``failed`` rows of ``out_dir``'s summary.csv and register only the other pairs;
            the settings must equal those in its batch.json.
        chunk_size: pairs per task, 1 to 10,000 (None: about four tasks per worker thread, 1 to 8 pairs each).
        pictures: any of "checkerboard", "overlay", "matches", written as ``<stem>_<picture>.png``.
        force_output: write the outputs of untrusted (``failed``) results too.
        qa_page: draw each pair's QA pictures as it is registered and write ``out_dir/index.html``, the QA page
            (one row per pair, worst first, with a swipe/flicker view; :func:`vreg_cli.qa.write_qa_page`).
        skipped: pairs found but not registrable, as ``(where, reason)`` (``data.pairs.BadEntry``, which also has
            the pair's ``.name``): each is an ``error`` row of the summary (``vreg register --pairs-dir`` passes the
            pairs its layout could not read).
        context: the registration context (working size, model, threshold, limits); None: built from ``model``,
            ``working_size`` and ``limits``, as for :class:`vreg_cli.Registrar`.
        model: the transform model (affine, similarity, homography); None: the context's default.
        working_size: the long side (px) both images are matched at; None: the context's default.
        read: which frame of multi-frame DICOM files and which picture of OCT volumes are registered
            (:class:`~vreg_cli.read_options.ReadOptions`; None: its defaults).
        **limits: further context fields (``max_rotation``, ``scale_range``, ...), as for ``Registrar``.

    Returns:
        The summary table (pandas DataFrame, one row per pair, sorted by name; columns
        ``vreg_cli.batch.SUMMARY_COLUMNS``): ``status`` is ok, failed (refused as untrusted; ``reason`` says why)
        or error (unreadable input, ...). A bad pair is a row, never an exception; the same table is in
        ``out_dir/summary.csv``, appended to while the batch runs.

    Raises:
        InputError: bad pairs, options or output folder (one line).
        VregError: ``resume`` with other settings than the batch's, or an unreadable pairs CSV (one line).
    """
    from vreg_cli.api import make_context
    from vreg_cli.paths import check_output_path

    if client is not None and scheduler is not None:
        raise InputError("give a Dask client or a scheduler address, not both")
    if (client is not None or scheduler is not None) and workers not in (None, 1):
        raise InputError("give a Dask client or workers, not both (the cluster's workers do the work)")
    workers = 1 if workers is None else workers
    if not isinstance(workers, int) or WORKERS_RANGE.problem(workers):
        raise InputError(f"workers must be an int in {WORKERS_RANGE.describe()}, got {workers!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or CHUNK_SIZE_RANGE.problem(chunk_size)):
        raise InputError(f"chunk_size must be None or an int in {CHUNK_SIZE_RANGE.describe()}, got {chunk_size!r}")
    unknown = [p for p in pictures if p not in PICTURES]
    if isinstance(pictures, str) or unknown:
        raise InputError(f"pictures: choose from {', '.join(PICTURES)} (got {pictures!r})")
    if context is not None and (model is not None or working_size is not None or limits):
        raise InputError("give a context or model / working_size / limits, not both")
    if context is None:
        context = make_context(model, working_size, **limits)
    out = Path(out_dir)
    try:
        check_output_path(out / "summary.csv")
    except VregError as exc:
        raise InputError(str(exc)) from None
    records = as_records(pairs)
    if not records and not skipped:
        raise InputError("pairs: no pairs given")
    if read is not None and not isinstance(read, ReadOptions):
        raise InputError(f"read: expected ReadOptions or None, got {type(read).__name__}")
    settings = BatchSettings(method, context, out, tuple(pictures), force_output, qa_page=qa_page,
                             read=read or ReadOptions())  # fmt: skip
    with _connected(scheduler, client) as cluster:
        return run_batch(records, settings, out / "summary.csv", list(skipped), workers, resume, cluster, chunk_size)


@contextlib.contextmanager
def _connected(scheduler: str | None, client: Client | None) -> Iterator[Client | None]:
    """The client to run on: one connected to ``scheduler`` for the batch (closed after it), else ``client``."""
    if scheduler is None:
        yield client
        return
    from vreg_cli.batch.dask_engine import connect
    from vreg_cli.ui import stdout

    with connect(scheduler) as remote:
        stdout.print(f"Dask scheduler {scheduler}: {len(remote.nthreads())} workers")
        yield remote
