"""The QA page of a batch: OUT_DIR/index.html, one row per pair, worst first, with linked thumbnails in OUT_DIR/qa/.

Call :func:`write_qa_page` at the end of a batch (or ``vreg qa OUT_DIR`` later) to (re)build it from summary.csv.
Exported lazily: ``vreg_cli.qa.config`` (read by the command line for its defaults) loads no OpenCV or numpy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["write_qa_page"]


def __getattr__(name: str) -> Any:
    if name == "write_qa_page":
        from vreg_cli.qa.page import write_qa_page

        return write_qa_page
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
