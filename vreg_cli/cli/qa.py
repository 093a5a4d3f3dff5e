"""`vreg qa OUT_DIR`: (re)build the QA page of a batch (OUT_DIR/index.html) from its summary.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vreg_cli.cli import app, field_default, user_errors
from vreg_cli.qa.config import QaConfig
from vreg_cli.ui import console

__all__: list[str] = []


@app.command()
@user_errors
def qa(
    out_dir: Annotated[
        Path, typer.Argument(help="The --out-dir of a `vreg register --pairs/--pairs-dir` batch (holds summary.csv).")
    ],
    workers: Annotated[int, typer.Option(help="Processes that render missing pictures.")] = field_default(
        QaConfig, "workers"
    ),
    rows_per_page: Annotated[int, typer.Option(help="Table rows per page in the browser.")] = field_default(
        QaConfig, "rows_per_page"
    ),
) -> None:
    """Write OUT_DIR/index.html: every pair worst first (errors, refusals, then fewest inliers), filter by status,
    thumbnails, and a full-size swipe / flicker view. Pictures go to OUT_DIR/qa/; only missing or stale ones are
    rendered. Open the page in a browser (works from a file, no network)."""
    import dataclasses

    from vreg_cli.limits import check_value, field_range
    from vreg_cli.qa import write_qa_page

    config = dataclasses.replace(QaConfig(), workers=workers, rows_per_page=rows_per_page)
    for option, name in (("--workers", "workers"), ("--rows-per-page", "rows_per_page")):
        check_value(option, getattr(config, name), field_range(QaConfig, name))
    console.print(f"wrote {write_qa_page(out_dir, config=config)}", soft_wrap=True)
