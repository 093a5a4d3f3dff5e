"""`vreg report RUN_DIR`: a self-contained report.html for a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vreg_cli.cli import app, renamed_option, user_errors
from vreg_cli.training.config import REPORT_EXAMPLES
from vreg_cli.ui import console

__all__: list[str] = []


@app.command()
@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A `vreg train` run directory (config.json, metrics.csv, *.ckpt).")],
    examples: Annotated[
        int | None,
        typer.Option(help="Validation pairs whose matches are shown.", min=0, show_default=str(REPORT_EXAMPLES)),
    ] = None,
    old_pairs: Annotated[int | None, typer.Option("--pairs", hidden=True, min=0)] = None,  # --examples' 0.1.0 name
    device: Annotated[str, typer.Option(help="Device for those matches: cpu | cuda | mps.")] = "cpu",
) -> None:
    """Write RUN_DIR/report.html: config, freeze table, curves, best and last metrics, validation matches."""
    from vreg_cli.training.html_report import write_report

    examples = renamed_option("--examples", "--pairs", examples, old_pairs)
    n = REPORT_EXAMPLES if examples is None else examples
    console.print(f"wrote {write_report(run_dir, n, device)}")
