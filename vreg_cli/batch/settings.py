"""What defines a batch's results (BatchSettings, saved as OUT_DIR/batch.json) and the columns of its summary.csv."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vreg_cli.context import RegistrationContext
from vreg_cli.read_options import ReadOptions

__all__ = ["BatchSettings", "SUMMARY_COLUMNS"]


#: the columns of OUT_DIR/summary.csv, one row per pair, in this order
SUMMARY_COLUMNS = [
    "name", "status", "reason", "method", "produced_by", "decision", "matches", "inliers", "inlier_ratio",
    "rotation_deg", "scale", "seconds", "lm_mean", "lm_median", "lm_max", "fixed", "moving", "output", "transform",
]  # fmt: skip


@dataclass(frozen=True)
class BatchSettings:
    """Everything a worker needs to register one pair (picklable: sent to worker processes and Dask workers)."""

    method_spec: str
    context: RegistrationContext
    out_dir: Path
    pictures: tuple[str, ...] = ()
    force_output: bool = False
    #: pair name -> stem of its output files (``outputs.batch_stems``; run_batch fills it for the whole batch)
    stems: dict[str, str] = dataclasses.field(default_factory=dict)
    #: draw each pair's QA pictures where it is registered and write OUT_DIR/index.html at the end (vreg_cli.qa);
    #: not part of describe(): it changes no result
    qa_page: bool = True
    #: how multi-frame DICOM files and OCT volumes are read (the frame, the volume's picture)
    read: ReadOptions = ReadOptions()

    def describe(self) -> dict[str, Any]:
        """What defines the batch's results (saved as OUT_DIR/batch.json; --resume must not change it). The read
        options appear only when they are not the defaults, so that a batch from before them still resumes."""
        described = {
            "method": self.method_spec,
            "registration": dataclasses.asdict(self.context),
            "pictures": list(self.pictures),
            "force_output": self.force_output,
        }
        if self.read != ReadOptions():
            described["read"] = dataclasses.asdict(self.read)
        return described

    def for_names(self, names: Iterable[str]) -> BatchSettings:
        """These settings with only the stems of ``names`` (what one task needs: a chunk's task stays small)."""
        return dataclasses.replace(self, stems={n: self.stems[n] for n in names if n in self.stems})
