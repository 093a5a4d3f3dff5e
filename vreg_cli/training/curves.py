"""RUN_DIR/curves.png: the training curves of a run from its metrics.csv rows.

Four panels: the loss and its parts (coarse, fine) per logged step, the learning rate, validation coarse precision /
recall / top-1 on vessel cells, and validation registration success overall and per benchmark rotation bin
(``val_success_rot15`` ...). Rewritten (atomically) at each validation and at the end of a run; ``vreg report``
embeds the same figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CURVES", "curves_figure", "write_curves"]


CURVES = "curves.png"
_LOSS_NAMES = {"loss": "total", "loss_c": "coarse (focal, vessel-weighted)", "loss_f": "fine (l2 with std)"}
_VAL_NAMES = {"val_precision": "precision", "val_recall": "recall", "val_top1": "top-1"}


def _series(frame: pd.DataFrame, kind: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    rows = frame[(frame["kind"] == kind)] if "kind" in frame else frame.iloc[0:0]
    if column not in rows:
        return np.zeros(0), np.zeros(0)
    rows = rows[["step", column]].apply(pd.to_numeric, errors="coerce").dropna()
    return rows["step"].to_numpy(np.float64), rows[column].to_numpy(np.float64)


def _plot(ax, x: np.ndarray, y: np.ndarray, label: str) -> bool:
    if len(x) == 0:
        return False
    ax.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=label)
    return True


def curves_figure(frame: pd.DataFrame, title: str = ""):
    """The 2 x 2 matplotlib Figure of a metrics.csv frame (columns "step", "kind" and the logged metrics)."""
    from vreg_cli.viz import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.0), dpi=110)
    (ax_loss, ax_lr), (ax_val, ax_succ) = axes
    drawn = [_plot(ax_loss, *_series(frame, "train", c), name) for c, name in _LOSS_NAMES.items()]
    _, loss_values = _series(frame, "train", "loss")
    if len(loss_values) and np.all(loss_values > 0):
        ax_loss.set_yscale("log")
    ax_loss.set_title("training loss")
    _plot(ax_lr, *_series(frame, "train", "lr"), "learning rate")
    ax_lr.set_title("learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    drawn_val = [_plot(ax_val, *_series(frame, "val", c), name) for c, name in _VAL_NAMES.items()]
    ax_val.set_title("validation: coarse matches on vessel cells")
    ax_val.set_ylim(-0.03, 1.03)
    bins = [c for c in frame.columns if c.startswith("val_success_rot")]
    drawn_succ = [_plot(ax_succ, *_series(frame, "val", "val_success"), "all rotations")]
    drawn_succ += [_plot(ax_succ, *_series(frame, "val", c), c.removeprefix("val_success_rot") + "°") for c in bins]
    ax_succ.set_title("validation: registration success per benchmark rotation bin")
    ax_succ.set_ylim(-0.03, 1.03)
    for ax, any_drawn in ((ax_loss, any(drawn)), (ax_lr, True), (ax_val, any(drawn_val)), (ax_succ, any(drawn_succ))):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if any_drawn and ax is not ax_lr:
            ax.legend(fontsize=8, loc="best")
        elif not any_drawn:
            ax.text(0.5, 0.5, "no validation yet", ha="center", va="center", transform=ax.transAxes, color="0.4")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def write_curves(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``curves_figure(frame)`` as PNG atomically."""
    from vreg_cli.viz import save_figure

    return save_figure(curves_figure(frame), path)
