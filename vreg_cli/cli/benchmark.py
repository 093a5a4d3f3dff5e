"""`vreg benchmark`: methods side by side, success per rotation bin, CSV + markdown + plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vreg_cli.benchmark.config import (
    ERROR_SCALES,
    PROTOCOLS,
    BenchmarkSettings,
    CaseConfig,
    ReportConfig,
    SourceConfig,
    Thresholds,
)
from vreg_cli.cli import (
    app,
    field_default,
    parse_numbers,
    renamed_option,
    show_default,
    shown_default,
    user_errors,
)
from vreg_cli.cli.register import SizeOpt
from vreg_cli.context import MODELS, RegistrationContext
from vreg_cli.errors import VregError
from vreg_cli.limits import SEED_RANGE, WORKERS_RANGE, Range, check_value
from vreg_cli.methods.registry import METHODS

__all__: list[str] = []


# Every default below is its owner's: the cases' (CaseConfig), the success thresholds' (Thresholds), the source's
# (SourceConfig), the run's (BenchmarkSettings), the report's (ReportConfig) or the registration's
# (RegistrationContext); tests/test_cli_defaults.py checks each option against its owner.
_ZOOM = "-".join(f"{z:g}" for z in field_default(CaseConfig, "zoom_range"))


def _window_option(field: str, text: str) -> Any:
    """A smallfov window option (``Annotated[str | None, _window_option(...)]``): None (not given) keeps the
    protocol's own range, CaseConfig's ``field``, shown as its default (summary.md lists the ranges a run used)."""
    return typer.Option(help=f"smallfov: {text}", show_default=shown_default(CaseConfig, field))


def _pair_default(owner: type, first: str, second: str) -> str:
    """Two fields' defaults as one 'a,b' option ('--success 10,30')."""
    return show_default((field_default(owner, first), field_default(owner, second)))


@app.command()
@user_errors
def benchmark(
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder: cases.csv, summary.csv/.md, plot, report.html.")
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            "-m",
            help=f"Method spec, repeatable: {' | '.join(METHODS)}, with options after a colon "
            "(loftr:weights=A), or labelled: mine=SPEC (the label names it in the reports).",
        ),
    ] = None,  # fmt: skip
    data: Annotated[Path | None, typer.Option(help="Prepared HDF5 file (synthetic ground truth).")] = None,
    split: Annotated[str, typer.Option(help="HDF5 split to use.")] = field_default(SourceConfig, "split"),
    modalities: Annotated[
        str | None,
        typer.Option(
            help="HDF5 modality pairs, comma-separated: cf-fa,cf-oct.",
            show_default=shown_default(SourceConfig, "modality_pairs"),
        ),
    ] = None,
    old_pairs: Annotated[str | None, typer.Option("--pairs", hidden=True)] = None,  # --modalities' name in 0.1.0
    pairs_dir: Annotated[Path | None, typer.Option(help="Folder of real annotated pairs.")] = None,
    pairs_layout: Annotated[
        str, typer.Option(help="Pair layout: landmarks-csv | numbered-pairs | path to a .toml spec.")
    ] = field_default(SourceConfig, "pairs_layout"),
    skip_bad: Annotated[bool, typer.Option(help="List bad pairs and go on instead of stopping.")] = field_default(
        SourceConfig, "skip_bad"
    ),
    bins: Annotated[str, typer.Option(help="Rotation bins in degrees (random sign per case).")] = show_default(
        field_default(CaseConfig, "bins")
    ),
    scale_jitter: Annotated[str, typer.Option(help="Random scale range 'low,high' (or one value).")] = show_default(
        field_default(CaseConfig, "scale_range")
    ),
    shift_jitter: Annotated[float, typer.Option(help="Random shift, up to this fraction of W and H.")] = field_default(
        CaseConfig, "shift_frac"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the cases (same cases for every method and run).")] = field_default(
        CaseConfig, "seed"
    ),
    protocol: Annotated[
        str,
        typer.Option(
            help=f"Cases: {PROTOCOLS[0]} (whole moving image, --scale-jitter and --shift-jitter) | {PROTOCOLS[1]} "
            f"(zoomed-in window {_ZOOM}x, degraded: the CF-OCT en-face regime)."
        ),
    ] = field_default(CaseConfig, "protocol"),
    zoom: Annotated[
        str | None, _window_option("zoom_range", "zoom range of the window, 'low,high' or one value (log-uniform).")
    ] = None,
    gamma: Annotated[str | None, _window_option("gamma_range", "gamma range, 'low,high' or one value.")] = None,
    blur: Annotated[str | None, _window_option("blur_range", "Gaussian blur sigma range (px).")] = None,
    noise: Annotated[str | None, _window_option("noise_range", "Gaussian noise sigma range (grey levels).")] = None,
    error_scale: Annotated[str, typer.Option(help=f"Error normalisation: {' | '.join(ERROR_SCALES)}.")] = field_default(
        BenchmarkSettings, "error_scale"
    ),
    sr_me: Annotated[float, typer.Option(help="SR_ME: mean error threshold.")] = field_default(Thresholds, "sr_me"),
    sr_mae: Annotated[float, typer.Option(help="SR_MAE: max error threshold.")] = field_default(Thresholds, "sr_mae"),
    success: Annotated[str, typer.Option(help="Success: 'median,max' thresholds.")] = _pair_default(
        Thresholds, "success_median", "success_max"
    ),
    acceptable: Annotated[str, typer.Option(help="FIRE-style acceptable: 'median,max' thresholds.")] = _pair_default(
        Thresholds, "acceptable_median", "acceptable_max"
    ),
    auc_limit: Annotated[float, typer.Option(help="AUC over mean errors 0..this.")] = field_default(
        Thresholds, "auc_limit"
    ),
    model: Annotated[str, typer.Option(help=f"Transform model: {' | '.join(MODELS)}.")] = field_default(
        RegistrationContext, "model"
    ),
    working_size: SizeOpt = field_default(RegistrationContext, "working_size"),
    workers: Annotated[int, typer.Option(help="Worker processes.")] = field_default(BenchmarkSettings, "workers"),
    resume: Annotated[bool, typer.Option(help="Skip the cases already in OUT/cases.csv.")] = field_default(
        BenchmarkSettings, "resume"
    ),
    force: Annotated[bool, typer.Option(help="Start again even if OUT/cases.csv exists.")] = field_default(
        BenchmarkSettings, "force"
    ),
    report_only: Annotated[
        Path | None,
        typer.Option("--report-only", help="Rebuild OUT/report.html from OUT/cases.csv and stop (runs nothing)."),
    ] = None,
    report_worst: Annotated[int, typer.Option(help="Worst cases per method shown in report.html.")] = field_default(
        ReportConfig, "worst"
    ),
) -> None:
    """Benchmark registration methods on synthetic (--data) or real annotated (--pairs-dir) pairs per rotation bin."""
    from vreg_cli.benchmark.command import report_only_from_cli, run_from_cli

    modalities = renamed_option("--modalities", "--pairs", modalities, old_pairs)
    if report_only is not None:
        return report_only_from_cli(report_only, report_worst)
    if out is None:
        raise VregError("give --out (the output folder), or --report-only OUT to rebuild a report")
    if (data is None) == (pairs_dir is None):
        raise VregError("give exactly one of --data (HDF5) or --pairs-dir (real pairs)")
    check_value("--seed", seed, SEED_RANGE)
    check_value("--workers", workers, WORKERS_RANGE)
    check_value("--report-worst", report_worst, Range(0, 1000))
    for option, value in (("--sr-me", sr_me), ("--sr-mae", sr_mae), ("--auc-limit", auc_limit)):
        check_value(option, value, Range(0, 1e6, open_lo=True))
    try:
        bin_values = tuple(int(b) for b in bins.replace(" ", "").split(",") if b)
    except ValueError:
        raise VregError(f"--bins {bins!r}: expected comma-separated whole degrees") from None
    scale = parse_numbers(scale_jitter, "--scale-jitter", (1, 2))
    if modalities is None:
        modality_pairs = field_default(SourceConfig, "modality_pairs")
    else:
        modality_pairs = tuple(p for p in modalities.replace(" ", "").split(",") if p)
    success_median, success_max = parse_numbers(success, "--success", (2,))
    acceptable_median, acceptable_max = parse_numbers(acceptable, "--acceptable", (2,))
    run_from_cli(
        out=out,
        methods=method or [],
        data=data,
        split=split,
        modality_pairs=modality_pairs,
        pairs_dir=pairs_dir,
        pairs_layout=pairs_layout,
        skip_bad=skip_bad,
        bins=bin_values,
        scale_range=(scale[0], scale[-1]),
        shift_frac=shift_jitter,
        seed=seed,
        protocol=protocol,
        window={
            key: parse_numbers(text, f"--{key}", (1, 2))
            for key, text in (("zoom", zoom), ("gamma", gamma), ("blur", blur), ("noise", noise))
            if text is not None
        },
        error_scale=error_scale,
        thresholds=dict(
            sr_me=sr_me,
            sr_mae=sr_mae,
            success_median=success_median,
            success_max=success_max,
            acceptable_median=acceptable_median,
            acceptable_max=acceptable_max,
            auc_limit=auc_limit,
        ),
        model=model,
        working_size=working_size,
        workers=workers,
        resume=resume,
        force=force,
        report_worst=report_worst,
    )
