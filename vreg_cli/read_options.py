"""How a file holding more than one picture is read: which DICOM frame, which picture of an OCT volume.

The one owner of ``--frame`` and ``--oct-image`` (their defaults and help); kept free of heavy imports so that the
command line can read its defaults when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from vreg_cli.limits import Range, check_fields

__all__ = ["OCT_IMAGES", "OctImage", "ReadOptions"]

OctImage = Literal["enface", "localizer"]
#: the pictures of an OCT volume vreg registers (docs/oct-and-dicom.md compares them)
OCT_IMAGES: tuple[OctImage, ...] = ("localizer", "enface")


@dataclass(frozen=True)
class ReadOptions:
    """How a multi-frame DICOM or an OCT volume becomes the one image vreg registers.

    Attributes:
        frame: the frame (0-based) of a multi-frame DICOM file; None: a single-frame file's only frame (a
            multi-frame file then needs one).
        oct_image: the picture of an OCT volume: ``localizer`` (the device's infrared fundus image taken with
            the scan: wider than the scan, sharp in both directions; the default, measured in
            docs/oct-and-dicom.md) or ``enface`` (the mean over depth, on the localizer's pixel grid, cropped to
            the scan).
    """

    frame: Annotated[int | None, Range(0, 100_000)] = None
    oct_image: OctImage = "localizer"

    def __post_init__(self) -> None:
        check_fields(self)
        if self.oct_image not in OCT_IMAGES:
            raise ValueError(f"oct_image must be one of {', '.join(OCT_IMAGES)}, got {self.oct_image!r}")
