"""OUT/report.html of a benchmark: settings, success tables, plots, worst cases with pictures, per-pair grid.

The page is built from files in OUT only: cases.csv (every number and the estimated matrix), run.json (settings),
methods.json (what each label loaded, the vreg version) and OUT/report_images/ (thumbnails). So
``vreg benchmark --report-only OUT`` rebuilds the same page without the data, and the two differ only in the
creation time. The thumbnails are made and kept by :mod:`vreg_cli.benchmark.thumbnails`; the worst-case section
and the per-pair grid are gathered by :mod:`vreg_cli.benchmark.report_cases`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vreg_cli.benchmark.caselog import load_frame, read_rows
from vreg_cli.benchmark.config import ReportConfig, Thresholds
from vreg_cli.benchmark.metrics import summarize
from vreg_cli.benchmark.report import COLUMNS, SCALE_TEXT, cell_text, criteria_text, success_figure
from vreg_cli.benchmark.report_cases import GridRow, WorstCases, pair_grid, shown_cases, worst_blocks
from vreg_cli.benchmark.run import METHODS_FILE
from vreg_cli.benchmark.thumbnails import remove_unused_thumbs, render_missing_thumbs
from vreg_cli.errors import VregError
from vreg_cli.io import read_json
from vreg_cli.report_html import Cell, Row, data_uri, figure_png, num, render, utc_now
from vreg_cli.report_html import write_page as _write_page

__all__ = ["build_report", "write_report"]


REPORT = "report.html"
_DEFAULT_WORST = ReportConfig.worst
_RATE_COLUMNS = (("success", "success"), ("sr_me", "SR_ME"), ("sr_mae", "SR_MAE"))


# ---------------------------------------------------------------------------------------------------- inputs
def _load_run(out_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """(cases frame, run.json, methods.json or {}) of a benchmark folder; VregError when it holds no results."""
    cases, run = out_dir / "cases.csv", out_dir / "run.json"
    if not cases.is_file() or not run.is_file():
        missing = cases if not cases.is_file() else run
        raise VregError(f"{missing}: not found; --report-only needs the folder of a finished `vreg benchmark` run")
    frame = load_frame(read_rows(cases))
    if frame.empty:
        raise VregError(f"{cases}: no finished cases to report")
    methods_path = out_dir / METHODS_FILE
    methods = read_json(methods_path) if methods_path.is_file() else {}
    return frame, read_json(run), methods


def _thresholds_of(run: dict[str, Any]) -> Thresholds:
    return Thresholds(**run.get("thresholds", {}))


# ---------------------------------------------------------------------------------------------------- page data
@dataclass(frozen=True)
class BenchmarkPage:
    """Everything ``templates/benchmark.html.j2`` lays out."""

    subtitle: str
    settings: list[tuple[str, str | list[str]]]  # (name, text or one line per entry)
    criteria: list[str]  # the success criteria, split at backticks (every second part is an option)
    success_header: list[str]
    success_rows: list[Row]
    success_groups: dict[int, str]  # {row index: rate} headings
    overall_header: list[str]
    overall_rows: list[Row]
    success_plot: str  # data URIs
    cumulative_plot: str
    auc_limit: str
    worst_n: int
    worst: list[WorstCases]
    grid_header: list[str]
    grid_rows: list[GridRow]


def _settings(
    frame: pd.DataFrame, run: dict[str, Any], methods: dict[str, Any], labels: list[str]
) -> tuple[list[tuple[str, str | list[str]]], list[str]]:
    """(settings items, success criteria split at backticks)."""
    t = _thresholds_of(run)
    n_pairs = frame[["pair", "modality"]].drop_duplicates().shape[0]
    bins = sorted(frame["bin"].unique().tolist())
    per_method = frame.groupby("method", sort=False).size()
    protocol = run.get("protocol", "standard")
    if protocol == "standard":
        lo, hi = run.get("scale_range", [float("nan")] * 2)
        cases = (
            f"moving image rotated by the bin angle (random sign), scaled {lo:g}-{hi:g}, shifted up to "
            f"{100 * run.get('shift_frac', float('nan')):g}% of W and H"
        )
    else:
        extra = {k: v for k, v in run.items() if k.endswith(("_range", "min_points")) and k != "scale_range"}
        cases = ", ".join(f"{k} {v}" for k, v in extra.items())
    info = methods.get("methods", {})
    method_lines = []
    for label in labels:
        m = info.get(label)
        spec = m["spec"] if m else str(frame.loc[frame["method"] == label, "method_spec"].iloc[0])
        text = f"{label}: {spec}" if spec != label else label
        if m:
            why = m.get("chosen_because", "")
            text += f" -> {m['loaded']}" + (f" ({why})" if why and why != "requested" else "")
        method_lines.append(text + f"; {int(per_method[label])} cases")
    reg = run.get("register", {})
    known = {"source", "seed", "bins", "scale_range", "shift_frac", "error_scale", "thresholds", "register", "protocol"}
    known |= {k for k in run if k.endswith(("_range", "min_points"))}
    items: list[tuple[str, str | list[str]]] = [
        ("source", str(run.get("source", "?"))),
        ("protocol", f"{protocol}: {cases}"),
        ("cases", f"{n_pairs} pair(s) x {len(bins)} bin(s) = {frame['case_id'].nunique()} per method"),
        ("seed", str(run.get("seed", "?"))),
        ("rotation bins", ", ".join(f"{b}°" for b in bins)),
        ("error scale", f"{run.get('error_scale', '?')}: {SCALE_TEXT.get(run.get('error_scale', ''), '')}"),
        ("thresholds", ", ".join(f"{k} {v:g}" for k, v in t.as_dict().items())),
        ("registration", ", ".join(f"{k} {v}" for k, v in reg.items()) if reg else "defaults"),
        ("methods", method_lines),
        ("vreg version", str(methods.get("vreg_version", "unknown (no methods.json)"))),
    ]
    items += [(k, json.dumps(v)) for k, v in run.items() if k not in known]
    return items, criteria_text(t, run.get("error_scale", "native")).split("`")


def _rate_cell(rate: float, n: int, best: bool) -> Cell:
    text = "-" if math.isnan(rate) else f"{100 * rate:.0f}% ({round(rate * n)}/{n})"
    return Cell(text, "num best" if best else "num")


def _success_table(summary: pd.DataFrame, labels: list[str]) -> tuple[list[str], list[Row], dict[int, str]]:
    """(header, rows, group headings): each rate (success, SR_ME, SR_MAE) x method; columns: bins and all. The best
    method per column (ties included) is marked, unless every method has the same value."""
    bins = [b for b in dict.fromkeys(summary["bin"]) if b != "all"]
    bins = sorted(bins, key=int) + ["all"]
    rows: list[Row] = []
    groups: dict[int, str] = {}
    for col, title in _RATE_COLUMNS:
        groups[len(rows)] = title
        pivot = summary.pivot(index="method", columns="bin", values=col)
        counts = summary.pivot(index="method", columns="bin", values="cases")
        best = {}
        for b in bins:
            values = pivot[b].reindex(labels).dropna()
            best[b] = values.max() if len(values) and values.nunique() > 1 else None
        for label in labels:
            cells: Row = [label]
            for b in bins:
                rate = float(pivot.loc[label, b]) if b in pivot.columns and label in pivot.index else float("nan")
                n = int(counts.loc[label, b]) if not math.isnan(rate) else 0
                cells.append(_rate_cell(rate, n, best[b] is not None and rate == best[b]))
            rows.append(cells)
    header = ["method"] + [f"{b}°" for b in bins[:-1]] + ["all bins"]
    return header, rows, groups


def _overall_table(summary: pd.DataFrame, labels: list[str]) -> tuple[list[str], list[Row]]:
    allrows = summary[summary["bin"] == "all"].set_index("method")
    header = ["method"] + [h for _, h, _ in COLUMNS]
    rows: list[Row] = [[label, *(num(cell_text(allrows.loc[label, c], k)) for c, _, k in COLUMNS)] for label in labels]
    return header, rows


def _plots(frame: pd.DataFrame, summary: pd.DataFrame, run: dict[str, Any], labels: list[str]) -> tuple[str, str, str]:
    """(success plot, cumulative error plot, AUC limit text)."""
    from vreg_cli.viz import cumulative_error_figure

    t = _thresholds_of(run)
    scale = run.get("error_scale", "native")
    success = figure_png(success_figure(summary, scale, t))
    errors = {m: frame.loc[frame["method"] == m, "mean_err"].to_numpy(np.float64) for m in labels}
    aucs = summary[summary["bin"] == "all"].set_index("method")["auc"].to_dict()
    cumulative = figure_png(cumulative_error_figure(errors, t.auc_limit, aucs, note=f"all bins, errors {scale}"))
    return data_uri(success), data_uri(cumulative), f"{t.auc_limit:g}"


# ---------------------------------------------------------------------------------------------------- the page
def report_data(out_dir: Path, worst: int = _DEFAULT_WORST) -> BenchmarkPage:
    """What the report of a benchmark folder shows (from its files only; see the module docstring)."""
    frame, run, methods = _load_run(out_dir)
    labels = list(dict.fromkeys(frame["method"]))
    summary = summarize(frame, _thresholds_of(run), labels)
    settings, criteria = _settings(frame, run, methods, labels)
    success_header, success_rows, success_groups = _success_table(summary, labels)
    overall_header, overall_rows = _overall_table(summary, labels)
    success_plot, cumulative_plot, auc_limit = _plots(frame, summary, run, labels)
    n = frame["case_id"].nunique()
    return BenchmarkPage(
        subtitle=f"{run.get('source', '')} · {len(labels)} method(s) · {n} cases per method",
        settings=settings,
        criteria=criteria,
        success_header=success_header,
        success_rows=success_rows,
        success_groups=success_groups,
        overall_header=overall_header,
        overall_rows=overall_rows,
        success_plot=success_plot,
        cumulative_plot=cumulative_plot,
        auc_limit=auc_limit,
        worst_n=worst,
        worst=worst_blocks(out_dir, frame, labels, worst),
        grid_header=["pair", *labels],
        grid_rows=pair_grid(frame, labels),
    )


def build_report(out_dir: Path, worst: int = _DEFAULT_WORST, created: str | None = None) -> str:
    """The report.html document of a benchmark folder (from its files only; see the module docstring)."""
    return render("benchmark.html.j2", page=report_data(out_dir, worst), created=created or utc_now())


def write_report(out_dir: str | Path, worst: int = _DEFAULT_WORST, source: Any = None, specs: Any = None) -> Path:
    """Write OUT/report.html. With ``source`` and ``specs`` (the run that just finished) the thumbnails it needs are
    rendered first into OUT/report_images/; without them (``--report-only``) the stored ones are used."""
    out_dir = Path(out_dir)
    if worst < 0:
        raise VregError(f"--report-worst must be >= 0 (got {worst})")
    if source is not None:
        frame, _, _ = _load_run(out_dir)
        shown = shown_cases(frame, worst)
        render_missing_thumbs(out_dir, frame, shown, source, specs or [])
        remove_unused_thumbs(out_dir, frame[frame["case_id"].isin(shown)])
    return _write_page(out_dir / REPORT, build_report(out_dir, worst))
