"""Benchmark reports: summary.csv, summary.md, success_vs_rotation.png and the rich table at the end of a run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from vreg_cli.benchmark.config import Thresholds
from vreg_cli.io import write_csv
from vreg_cli.paths import atomic_output

__all__ = ["COLUMNS", "SCALE_TEXT", "cell_text", "criteria_text", "rich_table", "success_figure", "write_reports"]


SCALE_TEXT = {
    "long-side-640": "pixels of the fixed image scaled to a 640 px long side",
    "resize-512": "pixels of the fixed image resized to 512x512 (error vectors scaled per axis)",
    "native": "native pixels of the fixed image",
}
# (column, header, kind): kind "rate" shows a percentage, "px" an error, "num" a plain number.
COLUMNS: list[tuple[str, str, str]] = [
    ("cases", "cases", "int"),
    ("failed", "failed", "int"),
    ("success", "success", "rate"),
    ("sr_me", "SR_ME", "rate"),
    ("sr_mae", "SR_MAE", "rate"),
    ("acceptable", "acceptable", "rate"),
    ("auc", "AUC", "num"),
    ("median_mean_err", "median mean err", "px"),
    ("median_max_err", "median max err", "px"),
    ("mir", "MIR", "num"),
    ("matches", "matches", "int"),
    ("inliers", "inliers", "int"),
    ("seconds", "s/case", "num"),
]


# The terminal table keeps the decisive columns so that it fits about 100 characters; the files have them all.
_TERMINAL = [("cases", "n", "int"), ("failed", "fail", "int"), ("success", "success", "rate"),
            ("sr_me", "SR_ME", "rate"), ("sr_mae", "SR_MAE", "rate"), ("acceptable", "accept", "rate"),
            ("auc", "AUC", "num"), ("median_mean_err", "mean err", "px"), ("mir", "MIR", "num"),
            ("seconds", "s", "num")]  # fmt: skip


def cell_text(value: Any, kind: str) -> str:
    """A table cell: "rate" as a percentage, "int" whole, "px" with 2 decimals (inf for failures), else a number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "rate":
        return f"{100.0 * value:.1f}%"
    if kind == "int":
        return f"{value:.0f}"
    if kind == "px":
        return "inf" if math.isinf(value) else f"{value:.2f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def criteria_text(t: Thresholds, error_scale: str) -> str:
    """One paragraph that states the error normalisation and every criterion (goes into every report)."""
    return (
        f"Errors in {SCALE_TEXT[error_scale]} (`--error-scale {error_scale}`). "
        f"success: median <= {t.success_median:g} and max <= {t.success_max:g}; SR_ME: mean <= {t.sr_me:g}; "
        f"SR_MAE: max <= {t.sr_mae:g}; acceptable (FIRE-style): median <= {t.acceptable_median:g} and "
        f"max <= {t.acceptable_max:g}; AUC: area under the success-vs-threshold curve of the mean error over "
        f"0-{t.auc_limit:g} px, normalised to 1. A failed registration counts as a failure with infinite error. "
        "MIR = inliers / matches (0 for a failure without matches); median errors are medians over cases."
    )


def _case_text(meta: dict[str, Any]) -> str:
    """How the protocol of the run draws its cases, in words."""
    if meta.get("protocol", "standard") == "smallfov":
        r = lambda k: f"{meta[k][0]:g}-{meta[k][1]:g}"  # noqa: E731
        return (
            f"protocol smallfov: moving = window zoomed {r('zoom_range')} (log-uniform), centre at {r('center_range')} "
            f"of W and H, gamma {r('gamma_range')}, blur sigma {r('blur_range')} px, noise sigma {r('noise_range')}; "
            f"only points in view, at least {meta['min_points']}"
        )
    return (
        f"scale {meta['scale_range'][0]:g}-{meta['scale_range'][1]:g}, shift up to {100 * meta['shift_frac']:g}% of "
        "the image size"
    )


def _write_markdown(summary: pd.DataFrame, path: Path, meta: dict[str, Any], t: Thresholds) -> Path:
    """summary.md: settings, criteria, the method x bin table and a success-vs-rotation pivot."""
    n_cases = int(summary[summary["bin"] == "all"]["cases"].max()) if not summary.empty else 0
    lines = [
        "# vreg benchmark",
        "",
        f"- source: {meta['source']}",
        f"- cases per method: {n_cases} (seed {meta['seed']}, bins {', '.join(str(b) for b in meta['bins'])} degrees "
        f"with random sign, {_case_text(meta)})",
        f"- error normalisation: **{meta['error_scale']}**",
        "- methods: " + "; ".join(f"`{label}` = `{spec}`" for label, spec in meta.get("methods", [])),
        f"- register: model {meta.get('model', 'affine')}; {meta.get('workers', 1)} worker process(es) (s/case is the "
        "wall time of one registration in its process)",
        "",
        criteria_text(t, meta["error_scale"]),
        "",
        "| method | bin | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for _, r in summary.iterrows():
        lines.append(f"| {r['method']} | {r['bin']} | " + " | ".join(cell_text(r[c], k) for c, _, k in COLUMNS) + " |")
    pivot = summary[summary["bin"] != "all"].pivot(index="method", columns="bin", values="success")
    if not pivot.empty:
        bins = sorted(pivot.columns, key=int)
        lines += ["", "Success rate per rotation bin:", "", "| method | " + " | ".join(f"{b}°" for b in bins) + " |"]
        lines.append("|---|" + "---:|" * len(bins))
        for m in dict.fromkeys(summary["method"]):
            lines.append(f"| {m} | " + " | ".join(cell_text(pivot.loc[m, b], "rate") for b in bins) + " |")
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def success_figure(summary: pd.DataFrame, error_scale: str, t: Thresholds):
    """The success-vs-rotation figure (matplotlib) of a summary: one line per method over the bins."""
    from vreg_cli.viz import success_vs_rotation_figure

    per_bin = summary[summary["bin"] != "all"]
    curves = {
        m: [(int(r["bin"]), float(r["success"]), int(r["cases"])) for _, r in g.iterrows()]
        for m, g in per_bin.groupby("method", sort=False)
    }
    note = f"success: median <= {t.success_median:g} and max <= {t.success_max:g} px ({error_scale})"
    return success_vs_rotation_figure(curves, note=note)


def _write_plot(summary: pd.DataFrame, path: Path, error_scale: str, t: Thresholds) -> Path:
    from vreg_cli.viz import save_figure

    return save_figure(success_figure(summary, error_scale, t), path)


def write_reports(summary: pd.DataFrame, out_dir: Path, meta: dict[str, Any], t: Thresholds) -> list[Path]:
    """summary.csv, summary.md and success_vs_rotation.png in ``out_dir``."""
    return [
        write_csv(out_dir / "summary.csv", summary),
        _write_markdown(summary, out_dir / "summary.md", meta, t),
        _write_plot(summary, out_dir / "success_vs_rotation.png", meta["error_scale"], t),
    ]


def rich_table(summary: pd.DataFrame, error_scale: str) -> Table:
    """The method x bin table for the terminal (rows over all bins in bold; "mean err" = median over cases)."""
    n = int(summary[summary["bin"] == "all"]["cases"].max()) if not summary.empty else 0
    table = Table(title=f"vreg benchmark: {n} cases per method, errors {error_scale}", title_style="bold")
    table.add_column("method")
    table.add_column("bin", justify="right")
    for _, header, _ in _TERMINAL:
        table.add_column(header, justify="right")
    for _, r in summary.iterrows():
        cells = [str(r["method"]), str(r["bin"])] + [cell_text(r[c], k) for c, _, k in _TERMINAL]
        table.add_row(*cells, style="bold" if r["bin"] == "all" else None, end_section=r["bin"] == "all")
    return table
