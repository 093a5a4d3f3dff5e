"""Benchmark metrics: control-point errors with an explicit normalisation, success criteria, AUC and summaries.

Error normalisations (``error_scale``), always stated in the reports:

- ``long-side-640`` (default): errors in fixed-image pixels scaled so that the fixed image's long side is 640 px;
- ``resize-512``: the convention of many retinal papers: both images resized to 512x512, so the error vector is
  scaled per axis (512/W, 512/H) of the fixed image;
- ``native``: fixed-image pixels as they are.

A failed registration has infinite error: it fails every criterion, counts in every denominator and adds 0 to the AUC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vreg_cli.benchmark.config import ERROR_SCALES, Thresholds
from vreg_cli.errors import VregError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["auc", "case_metrics", "error_scale_diag", "error_stats", "summarize"]


def error_scale_diag(kind: str, fixed_hw: tuple[int, int]) -> np.ndarray:
    """(2,) per-axis factors (x, y) that turn fixed-image pixel error vectors into normalised ones."""
    h, w = fixed_hw
    if kind == "long-side-640":
        f = 640.0 / max(h, w)
        return np.array([f, f])
    if kind == "resize-512":
        return np.array([512.0 / w, 512.0 / h])
    if kind == "native":
        return np.array([1.0, 1.0])
    raise VregError(f"unknown error scale {kind!r}; expected one of {', '.join(ERROR_SCALES)}")


def error_stats(errors: np.ndarray | None) -> tuple[float, float, float]:
    """(mean, median, max) of one case's errors (N,); all inf for a failed registration (None, empty, non-finite)."""
    if errors is None or len(errors) == 0 or not np.all(np.isfinite(errors)):
        return float("inf"), float("inf"), float("inf")
    return float(np.mean(errors)), float(np.median(errors)), float(np.max(errors))


def case_metrics(errors: np.ndarray | None, t: Thresholds) -> dict[str, float | bool]:
    """Mean/median/max error and the success flags of one case; ``errors=None`` is a failed registration."""
    mean, median, worst = error_stats(errors)
    return {
        "mean_err": mean,
        "median_err": median,
        "max_err": worst,
        "sr_me": mean <= t.sr_me,
        "sr_mae": worst <= t.sr_mae,
        "acceptable": median <= t.acceptable_median and worst <= t.acceptable_max,
        "success": t.succeeded(errors),
    }


def auc(mean_errors: np.ndarray, limit: float = 25.0) -> float:
    """FIRE-style AUC: area under (fraction of cases with mean error <= t) for t in [0, limit], divided by limit.

    The curve is a step function, so the area is exact: each case contributes (limit - min(e, limit)) / limit,
    i.e. 1 for a perfect case, 0 for an error >= limit or a failure (inf). Empty input -> nan.
    """
    e = np.asarray(mean_errors, np.float64)
    if e.size == 0:
        return float("nan")
    e = np.where(np.isnan(e), np.inf, e)
    return float(np.mean((limit - np.minimum(e, limit)) / limit))


def _group_summary(g: pd.DataFrame, t: Thresholds) -> dict[str, float]:
    failed = g["status"] != "ok"
    return {
        "cases": len(g),
        "failed": int(failed.sum()),
        "success": float(g["success"].astype(bool).mean()),
        "sr_me": float(g["sr_me"].astype(bool).mean()),
        "sr_mae": float(g["sr_mae"].astype(bool).mean()),
        "acceptable": float(g["acceptable"].astype(bool).mean()),
        "auc": auc(g["mean_err"].to_numpy(np.float64), t.auc_limit),
        "median_mean_err": float(np.median(g["mean_err"].to_numpy(np.float64))),
        "median_max_err": float(np.median(g["max_err"].to_numpy(np.float64))),
        "mir": float(g["mir"].fillna(0.0).mean()),
        "matches": float(g["matches"].mean()),
        "inliers": float(g["inliers"].mean()),
        "seconds": float(g["seconds"].mean()),
    }


def summarize(cases: pd.DataFrame, t: Thresholds, method_order: list[str] | None = None) -> pd.DataFrame:
    """One row per (method, bin) plus one row per method over all bins (bin = "all"). Rates are fractions."""
    import pandas as pd  # lazily: the CLI reads Thresholds' defaults without loading pandas

    rows = []
    methods = method_order or list(dict.fromkeys(cases["method"]))
    for m in methods:
        sub = cases[cases["method"] == m]
        if sub.empty:
            continue
        for b, g in sorted(sub.groupby("bin"), key=lambda kv: int(kv[0])):
            rows.append({"method": m, "bin": str(int(b)), **_group_summary(g, t)})
        rows.append({"method": m, "bin": "all", **_group_summary(sub, t)})
    return pd.DataFrame(rows)
