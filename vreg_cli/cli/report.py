"""`vreg report RUN_DIR`: a self-contained report.html for a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vreg_cli.cli import app, user_errors
from vreg_cli.ui import console


@app.command()
@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A `vreg train` run directory (config.json, metrics.csv, *.ckpt).")],
    pairs: Annotated[int, typer.Option(help="Validation pairs whose matches are shown.")] = 4,
    device: Annotated[str, typer.Option(help="Device for those matches: cpu | cuda | mps.")] = "cpu",
) -> None:
    """Write RUN_DIR/report.html: config, freeze table, curves, best and last metrics, validation matches."""
    from vreg_cli.training.html_report import write_report

    console.print(f"wrote {write_report(run_dir, pairs, device)}")
