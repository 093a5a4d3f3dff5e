"""The benchmark's settings: how cases are drawn (:class:`CaseConfig`; drawn in ``benchmark.cases``), the success
thresholds (:class:`Thresholds`; applied in ``benchmark.metrics``), where the pairs come from, how a run goes, what
the report shows. Light on imports (no numpy): `vreg benchmark` takes its option defaults from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from vreg_cli.data.config import DEFAULT_LAYOUT
from vreg_cli.errors import VregError
from vreg_cli.limits import Range

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BenchmarkSettings", "CaseConfig", "ERROR_SCALES", "PROTOCOLS", "ReportConfig", "SourceConfig", "Thresholds"]


PROTOCOLS = ("standard", "smallfov")


@dataclass(frozen=True)
class CaseConfig:
    """How cases are drawn (see the module docstring for the protocols).

    standard: scale_range (uniform isotropic scale), shift_frac (uniform shift, fraction of W / H).
    smallfov: zoom_range (log-uniform), center_range (window centre, fraction of W and H), gamma_range, blur_range
    (px), noise_range (grey levels of 8 bits), min_points (error points in view), max_draws (window draws per case).
    """

    bins: tuple[int, ...] = (0, 15, 30, 45, 60, 90, 135, 180)
    scale_range: tuple[float, float] = (0.9, 1.1)
    shift_frac: Annotated[float, Range(0, 0.49)] = 0.08  # of W and H; a shift of half the image leaves no overlap
    seed: int = 0
    protocol: str = "standard"
    zoom_range: tuple[float, float] = (1.4, 2.2)
    center_range: tuple[float, float] = (0.3, 0.7)
    gamma_range: tuple[float, float] = (0.6, 1.6)
    blur_range: tuple[float, float] = (0.0, 1.5)
    noise_range: tuple[float, float] = (0.0, 6.0)
    min_points: int = 6
    max_draws: int = 200

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise VregError(f"unknown benchmark protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}")

    def describe(self) -> dict[str, object]:
        """The settings that define the cases of this protocol (for run.json and the reports)."""
        if self.protocol == "standard":
            return {"protocol": "standard", "scale_range": list(self.scale_range), "shift_frac": self.shift_frac}
        return {
            "protocol": self.protocol,
            "zoom_range": list(self.zoom_range),
            "center_range": list(self.center_range),
            "gamma_range": list(self.gamma_range),
            "blur_range": list(self.blur_range),
            "noise_range": list(self.noise_range),
            "min_points": self.min_points,
        }


ERROR_SCALES = ("long-side-640", "resize-512", "native")


@dataclass(frozen=True)
class Thresholds:
    """Success criteria in normalised pixels. auc_limit: upper end of the AUC threshold range (0..auc_limit)."""

    sr_me: float = 5.0  # SR_ME: mean error <= sr_me
    sr_mae: float = 10.0  # SR_MAE: max error <= sr_mae
    acceptable_median: float = 20.0  # FIRE-style acceptable: median <= 20 and max <= 50
    acceptable_max: float = 50.0
    success_median: float = 10.0  # vreg's default success: median <= 10 and max <= 30
    success_max: float = 30.0
    auc_limit: float = 25.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def succeeded(self, errors: np.ndarray | None) -> bool:
        """vreg's success of one case from its normalised errors (N,): median <= success_median, max <= success_max.

        The one definition of success (the benchmark's ``case_metrics`` and training validation both use it);
        None, empty or non-finite errors (a failed registration) never succeed.
        """
        from vreg_cli.benchmark.metrics import error_stats

        _, median, worst = error_stats(errors)
        return median <= self.success_median and worst <= self.success_max


@dataclass(frozen=True)
class SourceConfig:
    """Which pairs a run uses: the HDF5 ``split`` and ``modality_pairs`` (``--data``), or the ``pairs_layout`` of a
    folder of real pairs (``--pairs-dir``), whose bad pairs stop the run unless ``skip_bad``."""

    split: str = "test"
    modality_pairs: tuple[str, ...] = ("cf-fa",)
    pairs_layout: str = DEFAULT_LAYOUT
    skip_bad: bool = False


@dataclass
class BenchmarkSettings:
    """Everything a run needs besides the source and the methods."""

    cases: CaseConfig = field(default_factory=CaseConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    error_scale: str = ERROR_SCALES[0]
    registration: Any = None  # vreg_cli.context.RegistrationContext; None = its defaults
    workers: int = 1
    resume: bool = False
    force: bool = False


@dataclass(frozen=True)
class ReportConfig:
    """What OUT/report.html shows: the ``worst`` cases of each method (with pictures)."""

    worst: int = 6
