"""The QA page of a batch: OUT_DIR/index.html, one row per pair, worst first, with linked thumbnails in OUT_DIR/qa/.

Call :func:`write_qa_page` at the end of a batch (or ``vreg qa OUT_DIR`` later) to (re)build it from summary.csv.
"""

from __future__ import annotations

from retinareg.qa.page import write_qa_page

__all__ = ["write_qa_page"]
