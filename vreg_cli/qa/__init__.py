"""The QA page of a batch: OUT_DIR/index.html, one row per pair, worst first, with linked thumbnails in OUT_DIR/qa/.

Call :func:`write_qa_page` at the end of a batch (or ``vreg qa OUT_DIR`` later) to (re)build it from summary.csv.
Exported lazily: ``vreg_cli.qa.config`` (read by the command line for its defaults) loads no OpenCV or numpy.
"""

from __future__ import annotations

from vreg_cli.lazy import lazy_exports

__all__ = ["write_qa_page"]

__getattr__ = lazy_exports(__name__, {"write_qa_page": "vreg_cli.qa.page"}, globals())
