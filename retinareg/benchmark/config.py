"""The benchmark's settings besides the cases (:class:`~retinareg.benchmark.cases.CaseConfig`) and the success
thresholds (:class:`~retinareg.benchmark.metrics.Thresholds`): where the pairs come from, how a run goes, what the
report shows. Light on imports: `vreg benchmark` takes its option defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retinareg.benchmark.cases import CaseConfig
from retinareg.benchmark.metrics import ERROR_SCALES, Thresholds
from retinareg.data.pairs import DEFAULT_LAYOUT


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
    registration: Any = None  # retinareg.context.RegistrationContext; None = its defaults
    workers: int = 1
    resume: bool = False
    force: bool = False


@dataclass(frozen=True)
class ReportConfig:
    """What OUT/report.html shows: the ``worst`` cases of each method (with pictures)."""

    worst: int = 6
