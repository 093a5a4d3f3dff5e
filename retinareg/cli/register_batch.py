"""CLI glue for `vreg register --pairs/--pairs-dir` (batch mode; imported lazily by cli/register)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retinareg.errors import VregError
from retinareg.limits import Range, check_value


def batch_register(
    pairs: Path | None, pairs_dir: Path | None, layout: str, out_dir: Path | None, spec: str, context: Any,
    pictures: tuple[str, ...], force_output: bool, workers: int, resume: bool = False,
) -> None:  # fmt: skip
    """Register every pair of a CSV or a folder; outputs and summary.csv go to ``out_dir``.

    Exit status (batch_exit_code): 0 all ok, 3 some pair refused as untrusted, 2 some pair errored (bad input).
    """
    from retinareg.batch import BatchSettings, batch_exit_code, read_pairs_csv, run_batch
    from retinareg.paths import check_output_path
    from retinareg.ui import console, stdout

    if pairs is not None and pairs_dir is not None:
        raise VregError("give --pairs or --pairs-dir, not both")
    if out_dir is None:
        raise VregError("batch mode needs --out-dir DIR")
    check_value("--workers", workers, Range(1, 256))
    check_output_path(out_dir / "summary.csv")
    bad: list[tuple[str, str]] = []
    if pairs is not None:
        records = read_pairs_csv(pairs)
    else:
        from retinareg.data.pairs import find_pairs

        records, bad = find_pairs(pairs_dir, layout, skip_bad=True)
    if not records and not bad:
        raise VregError(f"{pairs}: no pairs listed")
    settings = BatchSettings(spec, context, out_dir, pictures, force_output)
    summary = out_dir / "summary.csv"
    frame = run_batch(records, settings, summary, bad, workers, resume)
    counts = frame["status"].value_counts().to_dict()
    stdout.print(
        f"{len(frame)} pairs: {counts.get('ok', 0)} ok, {counts.get('failed', 0)} untrusted, "
        f"{counts.get('error', 0)} errors -> {summary}"
    )
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
