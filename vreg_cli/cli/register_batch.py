"""`vreg register --pairs/--pairs-dir` (batch mode; imported lazily by cli/register): the flags, then
:func:`vreg_cli.register_many`, then the summary lines and the exit status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.limits import CHUNK_SIZE_RANGE, WORKERS_RANGE, check_value

__all__ = ["batch_register"]


def batch_register(
    pairs: Path | None, pairs_dir: Path | None, layout: str, out_dir: Path | None, spec: str, context: Any,
    pictures: tuple[str, ...], force_output: bool, workers: int, resume: bool = False, scheduler: str | None = None,
    chunk_size: int | None = None, qa_page: bool = True, read: Any = None,
) -> None:  # fmt: skip
    """Register every pair of a CSV or a folder; outputs and summary.csv go to ``out_dir``.

    ``scheduler``: the address of a running Dask scheduler; the pairs are then tasks on its cluster (``chunk_size``
    pairs each) instead of ``workers`` local processes.
    Exit status (batch_exit_code): 0 all ok, 3 some pair refused as untrusted, 2 some pair errored (bad input).
    """
    from vreg_cli.batch import batch_exit_code
    from vreg_cli.batch.many import register_many
    from vreg_cli.ui import console, stdout

    if pairs is not None and pairs_dir is not None:
        raise VregError("give --pairs or --pairs-dir, not both")
    from vreg_cli.batch.many import PICTURES

    for name in pictures:
        if name not in PICTURES:
            raise VregError(f"--pictures {name!r}: choose from {', '.join(PICTURES)}")
    if out_dir is None:
        raise VregError("batch mode needs --out-dir DIR")
    # the flags' ranges, checked here to name the flag; their owners are in limits (register_many checks them too)
    check_value("--workers", workers, WORKERS_RANGE)
    if scheduler is not None and workers != 1:
        raise VregError("give --workers or --scheduler, not both (the cluster's workers do the work)")
    if chunk_size is not None:
        check_value("--chunk-size", chunk_size, CHUNK_SIZE_RANGE)
    bad: list[Any] = []
    if pairs is not None:
        source: Any = pairs
    else:
        from vreg_cli.data.pairs import find_pairs

        assert pairs_dir is not None  # batch mode runs for --pairs or --pairs-dir
        source, bad = find_pairs(pairs_dir, layout, skip_bad=True, read=read)
    frame = register_many(
        source, spec, out_dir=out_dir, scheduler=scheduler, workers=workers,
        resume=resume, chunk_size=chunk_size, pictures=pictures, force_output=force_output, qa_page=qa_page,
        skipped=bad, context=context, read=read,
    )  # fmt: skip
    summary = out_dir / "summary.csv"
    counts = frame["status"].value_counts().to_dict()
    stdout.print(
        f"{len(frame)} pairs: {counts.get('ok', 0)} ok, {counts.get('failed', 0)} untrusted, "
        f"{counts.get('error', 0)} errors -> {summary}"
    )
    if qa_page and (out_dir / "index.html").is_file():
        stdout.print(f"QA page (worst first): {(out_dir / 'index.html').resolve().as_uri()}")
    if frame["lm_mean"].notna().any():
        stdout.print(f"landmark error: mean of means {frame['lm_mean'].mean():.2f} px")
    for _, row in frame[frame["status"] != "ok"].iterrows():
        console.print(f"[yellow]{row['name']}[/]: {row['reason']}", soft_wrap=True)
    code = batch_exit_code(frame)
    if code:
        n_bad = int((frame["status"] != "ok").sum())
        kind = "errored or were refused" if code == 2 else "were refused as untrusted"
        error = VregError(f"{n_bad} of {len(frame)} pairs {kind}; every row is in {summary}")
        error.exit_code = code
        raise error
