"""`vreg benchmark`: methods side by side, success per rotation bin, CSV + markdown + plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retinareg.cli import app, parse_numbers, user_errors
from retinareg.errors import VregError
from retinareg.limits import SEED_RANGE, Range, check_value


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
            help="Method spec, repeatable: classic | sift | loftr:weights=A.ckpt | "
            "label=spec (e.g. mine=loftr:checkpoint=runs/x/best.ckpt).",
        ),
    ] = None,  # fmt: skip
    data: Annotated[Path | None, typer.Option(help="Prepared HDF5 file (synthetic ground truth).")] = None,
    split: Annotated[str, typer.Option(help="HDF5 split to use.")] = "test",
    pairs: Annotated[str, typer.Option(help="HDF5 modality pairs, comma-separated: cf-fa,cf-oct.")] = "cf-fa",
    pairs_dir: Annotated[Path | None, typer.Option(help="Folder of real annotated pairs.")] = None,
    pairs_layout: Annotated[
        str, typer.Option(help="Pair layout: landmarks-csv | numbered-pairs | path to a .toml spec.")
    ] = "landmarks-csv",
    skip_bad: Annotated[bool, typer.Option(help="List bad pairs and go on instead of stopping.")] = False,
    bins: Annotated[
        str, typer.Option(help="Rotation bins in degrees (random sign per case).")
    ] = "0,15,30,45,60,90,135,180",
    scale_jitter: Annotated[str, typer.Option(help="Random scale range 'low,high' (or one value).")] = "0.9,1.1",
    shift_jitter: Annotated[float, typer.Option(help="Random shift, up to this fraction of W and H.")] = 0.08,
    seed: Annotated[int, typer.Option(help="Seed of the cases (same cases for every method and run).")] = 0,
    protocol: Annotated[
        str,
        typer.Option(
            help="Cases: standard (whole moving image, --scale-jitter/--shift-jitter) | smallfov (zoomed-in window "
            "1.4-2.2x, degraded: the CF-OCT en-face regime)."
        ),
    ] = "standard",
    zoom: Annotated[
        str | None,
        typer.Option(
            help="smallfov: zoom range of the window, 'low,high' or one value (log-uniform; default: the "
            "protocol's, listed in summary.md)."
        ),
    ] = None,
    gamma: Annotated[str | None, typer.Option(help="smallfov: gamma range, 'low,high' or one value.")] = None,
    blur: Annotated[str | None, typer.Option(help="smallfov: Gaussian blur sigma range (px).")] = None,
    noise: Annotated[str | None, typer.Option(help="smallfov: Gaussian noise sigma range (grey levels).")] = None,
    error_scale: Annotated[
        str, typer.Option(help="Error normalisation: long-side-640 | resize-512 | native.")
    ] = "long-side-640",
    sr_me: Annotated[float, typer.Option(help="SR_ME: mean error threshold.")] = 5.0,
    sr_mae: Annotated[float, typer.Option(help="SR_MAE: max error threshold.")] = 10.0,
    success: Annotated[str, typer.Option(help="Success: 'median,max' thresholds.")] = "10,30",
    acceptable: Annotated[str, typer.Option(help="FIRE-style acceptable: 'median,max' thresholds.")] = "20,50",
    auc_limit: Annotated[float, typer.Option(help="AUC over mean errors 0..this.")] = 25.0,
    model: Annotated[str, typer.Option(help="Transform model: affine | similarity | homography.")] = "affine",
    working_size: Annotated[
        int, typer.Option("--working-size", min=64, help="Long side (px) both images are matched at.")
    ] = 640,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    resume: Annotated[bool, typer.Option(help="Skip the cases already in OUT/cases.csv.")] = False,
    force: Annotated[bool, typer.Option(help="Start again even if OUT/cases.csv exists.")] = False,
    report_only: Annotated[
        Path | None,
        typer.Option("--report-only", help="Rebuild OUT/report.html from OUT/cases.csv and stop (runs nothing)."),
    ] = None,
    report_worst: Annotated[int, typer.Option(help="Worst cases per method shown in report.html.")] = 6,
) -> None:
    """Benchmark registration methods on synthetic (--data) or real annotated (--pairs-dir) pairs per rotation bin."""
    from retinareg.benchmark.command import report_only_from_cli, run_from_cli

    if report_only is not None:
        return report_only_from_cli(report_only, report_worst)
    if out is None:
        raise VregError("give --out (the output folder), or --report-only OUT to rebuild a report")
    if (data is None) == (pairs_dir is None):
        raise VregError("give exactly one of --data (HDF5) or --pairs-dir (real pairs)")
    check_value("--seed", seed, SEED_RANGE)
    check_value("--shift-jitter", shift_jitter, Range(0, 1))
    check_value("--workers", workers, Range(1, 256))
    check_value("--report-worst", report_worst, Range(0, 1000))
    for option, value in (("--sr-me", sr_me), ("--sr-mae", sr_mae), ("--auc-limit", auc_limit)):
        check_value(option, value, Range(0, 1e6, open_lo=True))
    try:
        bin_values = tuple(int(b) for b in bins.replace(" ", "").split(",") if b)
    except ValueError:
        raise VregError(f"--bins {bins!r}: expected comma-separated whole degrees") from None
    scale = parse_numbers(scale_jitter, "--scale-jitter", (1, 2))
    run_from_cli(
        out=out,
        methods=method or [],
        data=data,
        split=split,
        modality_pairs=tuple(p for p in pairs.replace(" ", "").split(",") if p),
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
            success_median=parse_numbers(success, "--success", (2,))[0],
            success_max=parse_numbers(success, "--success", (2,))[1],
            acceptable_median=parse_numbers(acceptable, "--acceptable", (2,))[0],
            acceptable_max=parse_numbers(acceptable, "--acceptable", (2,))[1],
            auc_limit=auc_limit,
        ),
        model=model,
        working_size=working_size,
        workers=workers,
        resume=resume,
        force=force,
        report_worst=report_worst,
    )
