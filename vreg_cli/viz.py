"""Pictures people look at: checkerboard, two-colour overlay, matches across the pair. RGB uint8 out (OpenCV)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.geometry import resize_image, warp_points
from vreg_cli.io import clahe_gray, to_rgb
from vreg_cli.matches import Matches

__all__ = [
    "checkerboard",
    "cumulative_error_figure",
    "draw_matches",
    "overlay",
    "pyplot",
    "save_figure",
    "success_vs_rotation_figure",
]


GREEN = (40, 220, 40)
RED = (230, 40, 40)


def _same_size(fixed: np.ndarray, warped: np.ndarray) -> None:
    if fixed.shape[:2] != warped.shape[:2]:
        raise ValueError(f"fixed {fixed.shape[:2]} and warped {warped.shape[:2]} must have the same size")


def checkerboard(fixed: np.ndarray, warped: np.ndarray, tiles: int = 8) -> np.ndarray:
    """Alternate square tiles of FIXED and the warped MOVING image; vessels should continue across tile edges.

    fixed, warped: (H, W) or (H, W, 3) uint8 of the same size. ``tiles``: tiles along the long side.
    Returns (H, W, 3) RGB uint8.
    """
    _same_size(fixed, warped)
    h, w = fixed.shape[:2]
    side = max(1, int(np.ceil(max(h, w) / max(tiles, 1))))
    ys, xs = np.mgrid[0:h, 0:w]
    use_fixed = ((ys // side + xs // side) % 2 == 0)[..., None]
    return np.where(use_fixed, to_rgb(fixed), to_rgb(warped)).astype(np.uint8)


def overlay(fixed: np.ndarray, warped: np.ndarray) -> np.ndarray:
    """FIXED in magenta (red + blue) and the warped MOVING image in green: aligned structures look grey/white.

    Returns (H, W, 3) RGB uint8.
    """
    _same_size(fixed, warped)
    f, m = clahe_gray(fixed), clahe_gray(warped)
    return np.dstack([f, m, f])


def _fit_height(img: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W[, 3]) -> ((height, W', 3) RGB, S (3x3) original -> resized pixels), aspect kept."""
    return resize_image(to_rgb(img), (height, max(1, round(img.shape[1] * height / img.shape[0]))))


def draw_matches(
    fixed: np.ndarray,
    moving: np.ndarray,
    matches: Matches,
    inliers: np.ndarray | None = None,
    *,
    height: int = 640,
    max_lines: int = 400,
    seed: int = 0,
) -> np.ndarray:
    """FIXED left, MOVING right (both scaled to ``height``), inliers in green, outliers in red.

    At most ``max_lines`` matches are drawn (a seeded random subset, inliers first) so the picture stays legible.
    inliers: (N,) bool or None (all drawn green). Returns (height, W_f' + W_m', 3) RGB uint8.
    """
    left, f_map = _fit_height(fixed, height)
    right, m_map = _fit_height(moving, height)
    f_pts, m_pts = warp_points(f_map, matches.fixed), warp_points(m_map, matches.moving)
    canvas = np.hstack([left, right])
    n = len(matches)
    keep = np.ones(n, bool) if inliers is None else np.asarray(inliers, bool)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(keep)), rng.permutation(np.flatnonzero(~keep))])
    chosen = order[:max_lines]
    # Outliers first so that the inlier lines are drawn on top.
    for i in sorted(chosen, key=lambda j: bool(keep[j])):
        colour = GREEN if keep[i] else RED
        # shift=4 draws with sub-pixel precision
        p = f_pts[i]
        q = m_pts[i] + np.array([left.shape[1], 0.0])
        p16, q16 = tuple(int(round(v * 16)) for v in p), tuple(int(round(v * 16)) for v in q)
        cv2.line(canvas, p16, q16, colour, 1, cv2.LINE_AA, shift=4)
        cv2.circle(canvas, p16, 2 * 16, colour, -1, cv2.LINE_AA, shift=4)
        cv2.circle(canvas, q16, 2 * 16, colour, -1, cv2.LINE_AA, shift=4)
    return canvas


def draw_bscans(fixed: np.ndarray, lines: np.ndarray, outline: np.ndarray | None = None) -> np.ndarray:
    """Where each B-scan of an OCT volume lies on FIXED: (H, W, 3) RGB uint8.

    ``lines``: (N, 2, 2) each B-scan's start and end (x, y) in fixed-image pixels, in the volume's order.
    ``outline``: (K, 2) the registered moving picture's border in fixed pixels (drawn white), or None. Every B-scan
    is a thin yellow line, blended so that the fundus shows through; the first is drawn green, the centre one cyan
    and the last red, thicker, each with its index beside its start.
    """
    canvas = to_rgb(fixed).copy()
    width = max(1, round(max(canvas.shape[:2]) / 900))

    def sub(point: np.ndarray) -> tuple[int, int]:  # shift=4: sub-pixel precision
        return int(round(point[0] * 16)), int(round(point[1] * 16))

    n = len(lines)
    marked = {0: (0, 200, 0), n // 2: (0, 220, 255), n - 1: (255, 40, 40)}  # first, centre, last
    thin = canvas.copy()
    for i in range(n):
        if i not in marked:
            cv2.line(thin, sub(lines[i][0]), sub(lines[i][1]), (255, 230, 0), width, cv2.LINE_AA, shift=4)
    canvas = cv2.addWeighted(canvas, 0.4, thin, 0.6, 0.0)
    if outline is not None:
        cv2.polylines(canvas, [np.round(outline * 16).astype(np.int32)], True, (255, 255, 255), width, cv2.LINE_AA, 4)
    for i, colour in marked.items():
        cv2.line(canvas, sub(lines[i][0]), sub(lines[i][1]), colour, 3 * width, cv2.LINE_AA, shift=4)
        x, y = (int(round(v)) for v in lines[i][0])
        cv2.putText(canvas, str(i), (x + 4 * width, y - 4 * width), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * width, colour,
                    width, cv2.LINE_AA)  # fmt: skip
    return canvas


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, never a display).

    matplotlib keeps its configuration and font cache in ``MPLCONFIGDIR``, by default ``~/.config/matplotlib``:
    unless the user has set it, vreg points it at a folder of its own under the system's temporary directory, so
    that a command writes nothing in the home folder (the font cache is built there once per machine and user).
    """
    if "matplotlib" not in sys.modules:
        user = os.getuid() if hasattr(os, "getuid") else "user"
        os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / f"vreg-matplotlib-{user}"))
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    return plt


def success_vs_rotation_figure(
    curves: dict[str, list[tuple[int, float, int]]],
    *,
    ylabel: str = "success rate",
    title: str = "Success vs rotation",
    note: str = "",
):
    """Line plot (matplotlib Figure), one line per method: rate (0..1) against rotation bin (degrees).

    curves: method label -> [(bin_deg, rate, n_cases), ...]. The number of cases per point is written in the legend
    (or beside the points when it differs between bins). ``note`` goes under the title (e.g. the error scale).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=120)
    all_bins: set[int] = set()
    for label, points in curves.items():
        points = sorted(points)
        bins = [p[0] for p in points]
        all_bins.update(bins)
        counts = {p[2] for p in points}
        n_text = f"n={counts.pop()}/bin" if len(counts) == 1 else "n varies"
        (line,) = ax.plot(bins, [100.0 * p[1] for p in points], marker="o", label=f"{label} ({n_text})")
        if n_text == "n varies":
            for b, rate, n in points:
                ax.annotate(f"n={n}", (b, 100.0 * rate), fontsize=7, color=line.get_color(), xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
    ax.set_xticks(sorted(all_bins))
    ax.set_xlabel("rotation bin (degrees, either sign)")
    ax.set_ylabel(f"{ylabel} (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def cumulative_error_figure(errors: dict[str, np.ndarray], limit: float, aucs: dict[str, float], note: str = ""):
    """The AUC curve (matplotlib Figure): share of cases with mean error <= t for t in [0, limit], one step line per
    method. errors: method label -> (N,) mean errors (inf for failures); aucs: the area for each label's legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=120)
    t = np.linspace(0.0, limit, 501)
    for label, e in errors.items():
        e = np.where(np.isnan(e), np.inf, np.asarray(e, np.float64))
        share = (e[None, :] <= t[:, None]).mean(axis=1) if e.size else np.zeros_like(t)
        ax.plot(t, 100.0 * share, label=f"{label} (AUC {aucs.get(label, float('nan')):.3f}, n={e.size})")
    ax.set_xlim(0, limit)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("threshold on the mean control-point error (px)")
    ax.set_ylabel("cases with mean error <= threshold (%)")
    ax.grid(alpha=0.3)
    ax.set_title("Cumulative control-point error" + (f"\n{note}" if note else ""), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write a matplotlib figure as PNG atomically and close it."""
    from vreg_cli.paths import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    pyplot().close(fig)
    return path


def plot_success_vs_rotation(
    curves: dict[str, list[tuple[int, float, int]]],
    path: str | os.PathLike,
    *,
    ylabel: str = "success rate",
    title: str = "Success vs rotation",
    note: str = "",
) -> Path:
    """``success_vs_rotation_figure`` written as PNG (atomically)."""
    return save_figure(success_vs_rotation_figure(curves, ylabel=ylabel, title=title, note=note), path)
