"""The worst-case section and the per-pair grid of a benchmark's report.html: which cases are shown, and what each
method's cell of a shown case says (status, errors, match counts, stored thumbnails)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vreg_cli.benchmark.thumbnails import estimated_matrix, thumb_paths
from vreg_cli.report_html import EmbeddedPicture, data_uri

__all__ = ["GridRow", "WorstCases", "pair_grid", "shown_cases", "worst_blocks", "worst_cases"]


def worst_cases(frame: pd.DataFrame, method: str, n: int) -> list[str]:
    """Case ids of ``method``'s n worst cases, spread over the pairs: the worst case of every pair first (largest mean
    error first, failures being infinite, then larger max error), then the second worst of every pair, and so on.
    Ties keep the cases.csv order, so the choice is the same on every rebuild."""
    sub = frame[frame["method"] == method]
    order = sub.sort_values(["mean_err", "max_err"], ascending=False, kind="stable")
    rank = order.groupby(["pair", "modality"], sort=False).cumcount()
    spread = order.assign(_rank=rank.to_numpy()).sort_values("_rank", kind="stable")
    return list(spread["case_id"].head(n))


def shown_cases(frame: pd.DataFrame, worst: int) -> list[str]:
    """Every case id that the worst-case section shows (union over methods, in first-shown order)."""
    ids: dict[str, None] = {}
    for label in dict.fromkeys(frame["method"]):
        ids.update(dict.fromkeys(worst_cases(frame, label, worst)))
    return list(ids)


@dataclass(frozen=True)
class MethodCell:
    """One method's result on a shown case."""

    method: str
    own: bool  # the method whose worst case this is (drawn highlighted)
    status: str  # success, registered not a success, refused, crashed
    status_cls: str  # ok | bad
    summary: str  # errors, match counts and time
    thumbs: list[EmbeddedPicture]  # empty: no stored picture
    reason: str  # the refusal or crash message, or ""


@dataclass(frozen=True)
class ShownCase:
    """A worst case: its description and every method's result on it (the owning method first)."""

    head: str
    cells: list[MethodCell]


@dataclass(frozen=True)
class WorstCases:
    """One method's worst cases."""

    label: str
    anchor: str
    total: int  # the method's cases
    cases: list[ShownCase]


@dataclass(frozen=True)
class GridCell:
    """One pair x method cell of the per-pair grid: successes / cases and one (success, tooltip) square per bin."""

    successes: int
    cases: int
    squares: list[tuple[bool, str]]


@dataclass(frozen=True)
class GridRow:
    """One pair (and modality) of the per-pair grid; a cell is None where the method has no case of the pair."""

    name: str
    cells: list[GridCell | None]


def _errors_text(row: pd.Series) -> str:
    if not math.isfinite(float(row["mean_err"])):
        if estimated_matrix(row) is not None:
            return "no accepted transform (pictures: the refused estimate)"
        return "no transform (pictures: fixed, moving as presented)"
    return f"mean {row['mean_err']:.2f}, median {row['median_err']:.2f}, max {row['max_err']:.2f} px"


def _status(row: pd.Series) -> tuple[str, str]:
    """(status word, css class) of a case."""
    if row["status"] == "ok":
        return ("success", "ok") if bool(row["success"]) else ("registered, not a success", "bad")
    if row["status"] == "failed":
        return "refused", "bad"
    return "crashed", "bad"


def _method_cell(out_dir: Path, row: pd.Series, own: bool) -> MethodCell:
    """One method's cell of a shown case: status, errors, counts and time, and its stored thumbnails (if any)."""
    cb, ov = thumb_paths(out_dir, row)
    thumbs = []
    if cb.is_file() and ov.is_file():
        if estimated_matrix(row) is not None:
            overlay_title = "overlay: fixed magenta, warped green; points: fixed white, estimate yellow"
            titles = ("checkerboard: fixed / warped moving", overlay_title)
        else:
            titles = ("fixed image", "moving image as presented (no transform)")
        thumbs = [EmbeddedPicture(data_uri(p.read_bytes()), t) for p, t in zip((cb, ov), titles, strict=True)]
    counts = ""
    if not math.isnan(float(row["matches"])):
        counts = (
            f"{row['matches']:.0f} matches, {0 if math.isnan(float(row['inliers'])) else row['inliers']:.0f} inliers"
        )
    summary = _errors_text(row) + (f" · {counts}" if counts else "") + f" · {float(row['seconds']):.2f} s"
    status, status_cls = _status(row)
    return MethodCell(str(row["method"]), own, status, status_cls, summary, thumbs, str(row["error"] or ""))


def worst_blocks(out_dir: Path, frame: pd.DataFrame, labels: list[str], n: int) -> list[WorstCases]:
    """Each method's N worst cases (:func:`worst_cases`), every method's result on each, the owning method first."""
    blocks = []
    for label in labels:
        shown = []
        for cid in worst_cases(frame, label, n):
            rows = {r["method"]: r for _, r in frame[frame["case_id"] == cid].iterrows()}
            first = rows[label]
            modality = f" · {first['modality']}" if first["modality"] != "pair" else ""
            head = (
                f"{first['pair']}{modality} · bin {int(first['bin'])}° (rotation {first['angle']:g}°, "
                f"scale {first['scale']:.3f}, shift {first['shift_x']:.0f}, {first['shift_y']:.0f} px) · "
                f"{int(first['n_points'])} control points"
            )
            order = [label] + [m for m in labels if m != label and m in rows]
            shown.append(ShownCase(head, [_method_cell(out_dir, rows[m], m == label) for m in order]))
        total = int((frame["method"] == label).sum())
        blocks.append(WorstCases(label, _anchor(f"worst-{label}"), total, shown))
    return blocks


def pair_grid(frame: pd.DataFrame, labels: list[str]) -> list[GridRow]:
    """Rows: pair (and modality); columns: methods; a cell: successes / cases and one square per bin."""
    keys = list(dict.fromkeys(zip(frame["pair"], frame["modality"], strict=True)))
    multi_modality = frame["modality"].nunique() > 1
    rows = []
    for pair, modality in keys:
        sub = frame[(frame["pair"] == pair) & (frame["modality"] == modality)]
        cells: list[GridCell | None] = []
        for label in labels:
            g = sub[sub["method"] == label].sort_values("bin")
            squares = [
                (bool(ok), f"{b}°: " + ("success" if ok else (err or "not a success")))
                for b, ok, err in zip(g["bin"], g["success"], g["error"], strict=True)
            ]
            cells.append(GridCell(int(g["success"].sum()), len(g), squares) if len(g) else None)
        rows.append(GridRow(f"{pair} ({modality})" if multi_modality else str(pair), cells))
    return rows


def _anchor(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)
