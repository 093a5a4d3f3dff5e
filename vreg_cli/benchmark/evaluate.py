"""Run the methods on one case and turn the result into one cases.csv row per method.

Runs in the main process (``--workers 1``) or in worker processes; each process builds every method once and keeps
it (LoFTR weights are loaded once per process, never per case).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from vreg_cli.benchmark.cases import CaseSpec
from vreg_cli.benchmark.config import Thresholds
from vreg_cli.benchmark.metrics import case_metrics, error_scale_diag
from vreg_cli.geometry import point_errors

__all__ = ["COLUMNS", "EvalContext", "MATRIX_COLUMNS", "MethodEntry", "evaluate_case"]


MATRIX_COLUMNS = [f"m{r}{c}" for r in range(3) for c in range(3)]
COLUMNS = [
    "method", "method_spec", "case_id", "pair", "modality", "bin", "angle", "scale", "shift_x", "shift_y",
    "status", "error", "n_points", "mean_err", "median_err", "max_err", "sr_me", "sr_mae", "acceptable", "success",
    "matches", "inliers", "mir", "seconds", "error_scale", "produced_by", "decision", *MATRIX_COLUMNS,
]  # fmt: skip


@dataclass(frozen=True)
class MethodEntry:
    """A method in the comparison: its label in the reports and its ``build_method`` spec."""

    label: str
    spec: str


@dataclass
class EvalContext:
    """Everything a process needs to evaluate cases (picklable; each process builds one Registrar per method)."""

    source: Any  # H5Source | PairsSource
    entries: list[MethodEntry]
    registration: Any  # vreg_cli.context.RegistrationContext: every method is built for it
    error_scale: str
    thresholds: Thresholds

    def __post_init__(self) -> None:
        self._registrars: dict[str, Any] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_registrars"] = {}  # built again in each worker process
        return state

    def registrar(self, label: str) -> Any:
        """The :class:`~vreg_cli.api.Registrar` of one labelled method (built once per process)."""
        if label not in self._registrars:
            from vreg_cli.api import Registrar

            spec = next(e.spec for e in self.entries if e.label == label)
            self._registrars[label] = Registrar(spec, context=self.registration)
        return self._registrars[label]


def _row(ctx: EvalContext, entry: MethodEntry, case: CaseSpec, n_points: int) -> dict[str, Any]:
    return {
        "method": entry.label,
        "method_spec": entry.spec,
        "case_id": case.case_id,
        "pair": case.pair,
        "modality": case.modality,
        "bin": case.bin,
        "angle": round(case.angle, 6),
        "scale": round(case.scale, 6),
        "shift_x": round(case.shift[0], 4),
        "shift_y": round(case.shift[1], 4),
        "n_points": n_points,
        "error_scale": ctx.error_scale,
        "produced_by": "",
        "decision": "",
    }


def evaluate_case(ctx: EvalContext, case: CaseSpec, labels: list[str]) -> list[dict[str, Any]]:
    """Run each labelled method on one case; one row per method. A failure is a row with infinite errors."""
    data = ctx.source.load(case)
    diag = error_scale_diag(ctx.error_scale, data.fixed.shape[:2])
    rows = []
    for label in labels:
        entry = next(e for e in ctx.entries if e.label == label)
        row = _row(ctx, entry, case, len(data.pts_fixed))
        matrix, errors = None, None
        start = time.perf_counter()
        try:
            reg = ctx.registrar(label).register(data.fixed, data.moving)
            matches, inliers = float(reg.n_matches), float(reg.inliers)
            # a refused result keeps its matrix (when one was found) for diagnosis; the case has infinite error
            matrix = None if reg.matrix is None else np.asarray(reg.matrix, np.float64)
            row.update(produced_by=reg.produced_by, decision=reg.decision)
            if reg.ok:
                assert matrix is not None  # a trusted result always has its matrix
                errors = point_errors(matrix, data.pts_moving, data.pts_fixed, scale=diag)
                row.update(status="ok", error="")
            else:
                row.update(status="failed", error=reg.reason)
        except Exception as exc:  # noqa: BLE001 - a crashing method is a failed case, never a dropped one
            matches = inliers = float("nan")
            row.update(status="error", error=f"{type(exc).__name__}: {exc}")
        row["seconds"] = round(time.perf_counter() - start, 4)
        row.update(case_metrics(errors, ctx.thresholds))
        row["matches"], row["inliers"] = matches, inliers
        row["mir"] = inliers / matches if matches and np.isfinite(matches) and np.isfinite(inliers) else float("nan")
        flat = matrix.reshape(-1) if matrix is not None else np.full(9, np.nan)
        row.update({k: float(v) for k, v in zip(MATRIX_COLUMNS, flat, strict=True)})
        rows.append(row)
    return rows
