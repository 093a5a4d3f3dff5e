"""Self-contained HTML pages (the benchmark and training reports): the shared pieces and the template renderer.

The layout lives in Jinja2 templates, ``vreg_cli/templates/*.html.j2`` (package data): ``base.html.j2`` (the page
head, the one stylesheet, the title line and the navigation), ``macros.html.j2`` (tables) and one template per report.
The report modules gather plain data (strings, numbers, dataclasses) and call :func:`render`. Autoescape is on, so
every value from the data comes out escaped; nothing here marks a value safe.

Every picture is a ``data:`` URI and the stylesheet is inline, so a page opens from a file browser or an e-mail
attachment without network access; nothing here ever writes an ``http(s)://`` reference. Jinja2 is imported by
:func:`render` only, so importing this module (or ``vreg_cli``) does not load it.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vreg_cli.paths import atomic_output

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "CREATED_ID",
    "Cell",
    "EmbeddedPicture",
    "Row",
    "data_uri",
    "encode_image",
    "figure_png",
    "num",
    "render",
    "utc_now",
    "write_page",
]


#: the element that holds the creation time; two builds of the same report differ only inside it
CREATED_ID = "created"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and an optional CSS class (e.g. ``"num best"``)."""

    text: str
    cls: str | None = None


#: a table row: plain text cells or ``Cell`` values
Row = list[Cell | str]


def num(text: str) -> Cell:
    """A right-aligned number cell."""
    return Cell(text, "num")


def _escape(value: Any) -> Any:
    """Jinja2's ``finalize``: escape like :func:`html.escape` (``'`` as ``&#x27;``), so a page's text equals
    ``html.escape`` of its data (markupsafe would write ``&#39;``); markup built by the templates passes unchanged."""
    import markupsafe

    if hasattr(value, "__html__"):
        return value
    return markupsafe.Markup(html.escape(str(value), quote=True))


@functools.cache
def _environment() -> jinja2.Environment:
    """The one template environment: package templates, autoescape on, an undefined name is an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("vreg_cli", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_escape,
    )


def render(template: str, **context: Any) -> str:
    """The document that ``templates/<template>`` lays out from ``context`` (every value escaped)."""
    return _environment().get_template(template).render(created_id=CREATED_ID, **context)


@dataclass(frozen=True)
class EmbeddedPicture:
    """A picture embedded in a report page: its data URI and the text that says what it shows (caption, alt text
    and tooltip)."""

    src: str
    text: str


def data_uri(data: bytes, mime: str | None = None) -> str:
    """``data:<mime>;base64,...`` of raw file bytes (MIME from the PNG/JPEG signature unless given)."""
    mime = mime or ("image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def encode_image(img: np.ndarray, ext: str = ".jpg", quality: int = 82) -> bytes:
    """(H, W) or (H, W, 3) RGB uint8 -> JPEG (``quality``) or PNG bytes."""
    out = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    ok, buf = cv2.imencode(ext, out, params)
    if not ok:
        raise ValueError(f"cannot encode an image as {ext}")
    return buf.tobytes()


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards); the same figure always gives the same bytes."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_page(path: str | os.PathLike, document: str) -> Path:
    """Write the document atomically (UTF-8)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(document, encoding="utf-8")
    return path


def utc_now() -> str:
    """Creation time for a page, e.g. '2026-12-01 21:30 UTC'."""
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
