"""Glue between the `vreg benchmark` options and the benchmark core (validates, runs, reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from vreg_cli.benchmark.config import ERROR_SCALES, BenchmarkSettings, CaseConfig, Thresholds
from vreg_cli.benchmark.html_report import write_report
from vreg_cli.benchmark.report import rich_table, write_reports
from vreg_cli.benchmark.run import parse_methods, run_benchmark
from vreg_cli.errors import VregError
from vreg_cli.limits import check_value, field_range
from vreg_cli.ui import console, stdout, warn

__all__ = ["case_config", "make_source", "report_only_from_cli", "run_from_cli", "window_ranges"]


def make_source(
    data: Path | None, split: str, modality_pairs: tuple[str, ...], pairs_dir: Path | None, layout: str, skip_bad: bool
) -> Any:
    """H5Source for --data, PairsSource for --pairs-dir (bad pairs listed when skipped)."""
    from vreg_cli.benchmark.sources import H5Source, PairsSource

    if data is not None:
        return H5Source(data, split, modality_pairs)
    from vreg_cli.data.pairs import find_pairs

    assert pairs_dir is not None  # the callers give --data or --pairs-dir
    records, bad = find_pairs(pairs_dir, layout, skip_bad=skip_bad)
    for where, reason in bad:
        warn(f"skipped bad pair {where}: {reason}")
    return PairsSource(records, pairs_dir, layout)


def run_from_cli(
    *,
    out: Path,
    methods: list[str],
    data: Path | None,
    split: str,
    modality_pairs: tuple[str, ...],
    pairs_dir: Path | None,
    pairs_layout: str,
    skip_bad: bool,
    bins: tuple[int, ...],
    scale_range: tuple[float, float],
    shift_frac: float,
    seed: int,
    error_scale: str,
    protocol: str = "standard",
    window: dict[str, tuple[float, ...]] | None = None,
    thresholds: dict[str, float],
    model: str,
    working_size: int | None = None,
    workers: int,
    resume: bool,
    force: bool,
    report_worst: int = 6,
) -> None:
    """Validate the options, run the benchmark, write the reports and print the summary table."""
    from vreg_cli.context import RegistrationContext

    if error_scale not in ERROR_SCALES:
        raise VregError(f"--error-scale {error_scale!r}: choose one of {', '.join(ERROR_SCALES)}")
    cases = case_config(bins, scale_range, shift_frac, seed, protocol, window or {})
    if workers < 1:
        raise VregError("--workers must be at least 1")
    if report_worst < 0:
        raise VregError(f"--report-worst must be >= 0 (got {report_worst})")
    registration = RegistrationContext.from_options(model=model, working_size=working_size)
    entries = parse_methods(methods)
    source = make_source(data, split, modality_pairs, pairs_dir, pairs_layout, skip_bad)
    settings = BenchmarkSettings(
        cases=cases,
        thresholds=Thresholds(**thresholds),
        error_scale=error_scale,
        registration=registration,
        workers=workers,
        resume=resume,
        force=force,
    )
    console.print(f"[bold]benchmark[/] {source.describe()}; methods: {', '.join(e.label for e in entries)}")
    _, summary = run_benchmark(source, entries, settings, out)
    meta = {
        "source": source.describe(),
        "seed": seed,
        "bins": list(settings.cases.bins),
        "scale_range": list(scale_range),
        "shift_frac": shift_frac,
        **settings.cases.describe(),
        "error_scale": error_scale,
        "methods": [(e.label, e.spec) for e in entries],
        "model": registration.model,
        "working_size": registration.working_size,
        "workers": workers,
    }
    written = write_reports(summary, Path(out), meta, settings.thresholds)
    written.append(write_report(out, report_worst, source=source, specs=source.case_specs(settings.cases)))
    # Piped output has no width; 120 columns keeps the table readable in logs instead of folding every cell.
    out_console = stdout if stdout.is_terminal else Console(width=120, highlight=False)
    out_console.print(rich_table(summary, error_scale))
    console.print("wrote " + ", ".join(str(p) for p in [Path(out) / "cases.csv", *written]))


def case_config(
    bins: tuple[int, ...],
    scale_range: tuple[float, float],
    shift_frac: float,
    seed: int,
    protocol: str,
    window: dict[str, tuple[float, ...]],
) -> CaseConfig:
    """The benchmark's cases from its options (``--bins``, ``--scale-jitter``, ``--shift-jitter``, ``--seed``,
    ``--protocol`` and the window options), each checked; VregError names the first bad one."""
    if not bins or any(b < 0 or b > 180 for b in bins) or len(set(bins)) != len(bins):
        raise VregError(f"--bins {bins}: give distinct whole degrees between 0 and 180")
    if not 0 < scale_range[0] <= scale_range[1]:
        raise VregError(f"--scale-jitter {scale_range}: need 0 < low <= high")
    check_value("--shift-jitter", shift_frac, field_range(CaseConfig, "shift_frac"))
    window_fields: dict[str, Any] = window_ranges(protocol, window)  # CaseConfig's *_range fields
    return CaseConfig(
        bins=tuple(sorted(bins)),
        scale_range=scale_range,
        shift_frac=shift_frac,
        seed=seed,
        protocol=protocol,
        **window_fields,
    )


# --zoom / --gamma / --blur / --noise of the smallfov protocol: CaseConfig field, the least and the largest allowed
# value (a window at most 1/8 of the image wide; a blur of 32 px or noise of 128 grey levels already leaves nothing to
# register, and a blur of 1e9 px made OpenCV build a kernel that exhausted the memory)
_WINDOW_OPTIONS = {"zoom": ("zoom_range", 1.0, 8.0), "gamma": ("gamma_range", 0.05, 20.0),
                   "blur": ("blur_range", 0.0, 32.0), "noise": ("noise_range", 0.0, 128.0)}  # fmt: skip


def window_ranges(protocol: str, window: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, float]]:
    """CaseConfig fields for the smallfov window options given ('low,high' or one value each), validated."""
    if window and protocol != "smallfov":
        raise VregError(", ".join(f"--{k}" for k in window) + " apply only to --protocol smallfov")
    out = {}
    for key, values in window.items():
        field, least, most = _WINDOW_OPTIONS[key]
        lo, hi = values[0], values[-1]
        if not least <= lo <= hi <= most:
            raise VregError(f"--{key} {lo:g},{hi:g}: need {least:g} <= low <= high <= {most:g}")
        out[field] = (lo, hi)
    return out


def report_only_from_cli(out: Path, report_worst: int) -> None:
    """``--report-only OUT``: rebuild OUT/report.html from the files of a finished run (nothing runs again)."""
    console.print(f"wrote {write_report(out, report_worst)}")
