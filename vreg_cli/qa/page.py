"""OUT_DIR/index.html: the QA page of a batch (layout: ``templates/qa.html.j2``; rows: :mod:`vreg_cli.qa.rows`;
pictures: :mod:`vreg_cli.qa.thumbs`).

The page embeds the rows as one JSON array and a small script renders a page of rows at a time, so a batch of
10,000 pairs stays light; pictures are linked files in OUT_DIR/qa/, never embedded. Nothing is fetched from the
network, and the page works from ``file://``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.qa.config import QaConfig
from vreg_cli.qa.rows import STATUS_RANK, SUMMARY, PairRow, load_rows, resolve
from vreg_cli.qa.thumbs import QA_DIR, SUFFIXES, PictureJob, remove_unused, render_stale

__all__ = ["picture_job", "write_qa_page"]


PAGE = "index.html"
#: summary column -> key in the page's JSON rows (short keys keep 10,000 rows light)
_TEXT_KEYS = {"name": "n", "status": "s", "reason": "r", "method": "me", "produced_by": "pb", "decision": "d",
             "fixed": "fx", "moving": "mv", "output": "o", "transform": "tf"}  # fmt: skip
_NUMBER_KEYS = {"matches": "m", "inliers": "i", "inlier_ratio": "ir", "rotation_deg": "rot", "scale": "sc",
               "seconds": "t", "lm_mean": "lm", "lm_median": "lmd", "lm_max": "lx"}  # fmt: skip


def picture_job(row: PairRow, out_dir: Path, config: QaConfig) -> PictureJob:
    """Where one row's pictures go and which images they come from (paths resolved, see :func:`rows.resolve`)."""
    f = row.fields
    return PictureJob(
        qa_dir=out_dir / QA_DIR,
        key=row.key,
        fixed=resolve(f.get("fixed", ""), out_dir),
        moving=resolve(f.get("moving", ""), out_dir),
        warped=resolve(f.get("output", ""), out_dir, in_out_dir=True),
        thumb_side=config.thumb_side,
        display_side=config.display_side,
        quality=config.jpeg_quality,
    )


def _number(value: float) -> float | int | None:
    if math.isnan(value) or math.isinf(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else float(f"{value:.5g}")


def _page_record(row: PairRow, pictures: str) -> dict[str, Any]:
    """One row of the page's JSON array: texts and numbers under short keys, the picture key and the letters of
    the pictures that exist (``thumbs.SUFFIXES``); empty texts and missing numbers are left out."""
    record: dict[str, Any] = {k: row.fields.get(c, "") for c, k in _TEXT_KEYS.items() if row.fields.get(c, "")}
    record["s"] = row.status
    record.update({k: v for c, k in _NUMBER_KEYS.items() if (v := _number(row.number(c))) is not None})
    record.update(k=row.key, p=pictures)
    return record


def _subtitle(out_dir: Path, rows: list[PairRow]) -> str:
    counts = Counter(r.status for r in rows)
    parts = [f"{len(rows)} pairs"] + [f"{n} {s}" for s, n in sorted(counts.items())]
    methods = sorted({r.fields.get("method", "") for r in rows} - {""})
    if methods:
        parts.append("method " + ", ".join(methods))
    return f"{out_dir.resolve()} · " + ", ".join(parts)


def write_qa_page(out_dir: Path, *, progress: bool = True, config: QaConfig | None = None) -> Path:
    """Build OUT_DIR/index.html (atomically) and its pictures in OUT_DIR/qa/ from OUT_DIR/summary.csv.

    Pictures that exist and are newer than the images they show are kept, the others rendered (a rich progress
    bar when ``progress``); pictures of pairs no longer in the summary are deleted. An unreadable image gives a
    placeholder, never an error. Call it at the end of a batch, or run ``vreg qa OUT_DIR``.

    Returns:
        The path of index.html.

    Raises:
        VregError: one line: OUT_DIR has no readable summary.csv, OUT_DIR/qa is not a folder, or a file cannot be
            written there.
    """
    from vreg_cli.report_html import render, utc_now, write_page

    config = config or QaConfig()
    out_dir = Path(out_dir)
    rows = load_rows(out_dir)
    if (out_dir / QA_DIR).exists() and not (out_dir / QA_DIR).is_dir():
        raise VregError(f"{out_dir / QA_DIR}: exists and is not a folder; the QA page keeps its pictures there")
    jobs = [picture_job(r, out_dir, config) for r in rows]
    stale = [j for j in jobs if not j.is_fresh()]
    if stale and progress:
        from vreg_cli.ui import progress as progress_bar

        with progress_bar() as bar:
            task = bar.add_task("QA pictures", total=len(stale))
            render_stale(stale, config.workers, lambda: bar.advance(task))
    else:
        render_stale(stale, config.workers)
    present = [j.present() for j in jobs]
    remove_unused(out_dir / QA_DIR, {f"{j.key}{SUFFIXES[c]}" for j, p in zip(jobs, present, strict=True) for c in p})
    records = [_page_record(r, p) for r, p in zip(rows, present, strict=True)]
    statuses = sorted(Counter(r.status for r in rows).items(), key=lambda kv: (STATUS_RANK.get(kv[0], 0), kv[0]))
    document = render(
        "qa.html.j2",
        title="vreg batch QA",
        subtitle=_subtitle(out_dir, rows),
        created=utc_now(),
        summary=SUMMARY,
        rows=records,
        statuses=statuses,
        rows_per_page=config.rows_per_page,
        qa_dir=QA_DIR,
        suffixes=SUFFIXES,
        # the landmark column only when some pair has landmarks (a batch without them has nothing to put there)
        landmarks=any("lm" in r for r in records),
    )
    return write_page(out_dir / PAGE, document)
