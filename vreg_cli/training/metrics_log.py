"""RUN_DIR/metrics.csv (one row per logged train step or validation; rewritten atomically), RUN_DIR/curves.png
(redrawn at each validation and at the end) and TensorBoard.

TensorBoard event files go to RUN_DIR/tb when the ``tensorboard`` package is installed; otherwise only the CSV.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from vreg_cli.io import write_csv
from vreg_cli.training.curves import CURVES, write_curves

__all__ = ["MetricsLog"]


class MetricsLog:
    """Rows of {"step", "kind" ("train" | "val"), metric...}; a resumed run drops rows after its step."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and self.path.is_file():
            old = pd.read_csv(self.path)
            self.rows = [r for r in old.to_dict("records") if r["step"] <= resume_step]
        self._tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))
        except ImportError:  # tensorboard is optional
            self._tb = None

    def add(self, step: int, kind: str, values: dict[str, float]) -> None:
        self.rows.append({"step": step, "kind": kind, **values})
        frame = pd.DataFrame(self.rows)
        write_csv(self.path, frame)
        if kind == "val":
            write_curves(frame, self.path.with_name(CURVES))
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    self._tb.add_scalar(f"{kind}/{key}", value, step)
            self._tb.flush()

    def close(self) -> None:
        if self.rows:  # also a run without validation gets its loss and learning-rate curves
            write_curves(pd.DataFrame(self.rows), self.path.with_name(CURVES))
        if self._tb is not None:
            self._tb.close()
