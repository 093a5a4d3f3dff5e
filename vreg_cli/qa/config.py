"""The settings of the QA page (the one owner of their defaults; ``vreg qa`` shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from vreg_cli.limits import WORKERS_RANGE, Range

__all__ = ["QaConfig"]


@dataclass(frozen=True)
class QaConfig:
    """Sizes of the QA page's pictures and table.

    Attributes:
        thumb_side: long side (px) of a stored thumbnail (checkerboard, overlay); shown at half that in the table.
        display_side: largest long side (px) of the full-size view's fixed / warped JPEGs (never enlarged).
        rows_per_page: table rows per page in the browser.
        workers: processes that render missing pictures (1: in this process).
        jpeg_quality: JPEG quality of every stored picture (0-100).
    """

    thumb_side: int = 240
    display_side: int = 1024
    rows_per_page: Annotated[int, Range(1, 100_000)] = 100
    workers: Annotated[int, WORKERS_RANGE] = 1
    jpeg_quality: int = 82
