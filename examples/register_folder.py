"""Register a folder of CF-FA / CF-OCT pairs from Python, print a table and plot the results.

    python examples/register_folder.py FOLDER [--method classic] [--out results.png]

FOLDER holds one sub-folder per pair with ``fixed.png`` (the colour fundus photo), ``moving.png`` (FA or OCT
en-face) and, optionally, ``landmarks.csv`` (``x_fixed,y_fixed,x_moving,y_moving``, pixels), the layout of
``data_specs/sample``. One ``Registrar`` serves every pair, so the method (and a LoFTR's weights) load once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import vreg_cli  # noqa: E402
from vreg_cli.io import read_landmarks  # noqa: E402


def register_folder(folder: Path, method: str = "classic") -> tuple[pd.DataFrame, dict[str, vreg_cli.Registration]]:
    """One row per pair (status, reason, inliers, rotation, scale, seconds, landmark errors) and each result."""
    registrar = vreg_cli.Registrar(method)
    rows, results = [], {}
    for pair in sorted(p for p in folder.iterdir() if (p / "fixed.png").is_file() and (p / "moving.png").is_file()):
        reg = registrar.register(pair / "fixed.png", pair / "moving.png")
        row = {"pair": pair.name, "ok": reg.ok, "reason": reg.reason or "", "inliers": reg.inliers,
               "rotation_deg": reg.rotation_deg, "scale": reg.scale, "seconds": reg.seconds}  # fmt: skip
        if (pair / "landmarks.csv").is_file():
            fixed_pts, moving_pts = read_landmarks(pair / "landmarks.csv")
            errors = np.linalg.norm(reg.map_points(moving_pts) - fixed_pts, axis=1)  # moving -> fixed pixels
            row |= {"mean_err_px": errors.mean(), "max_err_px": errors.max()}
        rows.append(row)
        results[pair.name] = reg
    return pd.DataFrame(rows), results


def plot(table: pd.DataFrame, results: dict[str, vreg_cli.Registration], out: Path) -> None:
    """A checkerboard of fixed and warped moving per pair, titled with its status and landmark error."""
    n = max(len(results), 1)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 4), squeeze=False)
    for ax, (name, reg) in zip(axes[0], results.items(), strict=False):
        row = table.set_index("pair").loc[name]
        title = f"{name}: {'ok' if reg.ok else 'refused'}"
        if "mean_err_px" in row and pd.notna(row["mean_err_px"]):
            title += f", {row['mean_err_px']:.1f} px"
        if reg.ok:
            ax.imshow(reg.checkerboard(), cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--method", default="classic", help="a method spec, e.g. classic, loftr, auto")
    parser.add_argument("--out", type=Path, default=Path("results.png"), help="the plot (PNG)")
    args = parser.parse_args()
    table, results = register_folder(args.folder, args.method)
    if table.empty:
        raise SystemExit(f"error: no pair folders with fixed.png and moving.png in {args.folder}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    plot(table, results, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
