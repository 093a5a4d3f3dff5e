"""Self-contained HTML pages (the benchmark and training reports): one stylesheet, tables, embedded images.

Every picture is a ``data:`` URI and the stylesheet is inline, so a page opens from a file browser or an e-mail
attachment without network access; nothing here ever writes an ``http(s)://`` reference. Text is HTML-escaped by
``cell``/``esc``; only ``Html`` values pass through unchanged.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from retinareg.paths import atomic_output

#: the element that holds the creation time; two builds of the same report differ only inside it
CREATED_ID = "created"

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2433;
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 2px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d5dae3;
     padding-bottom: 3px; } h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub { color: #5a6478; margin: 0 0 10px; } p.note { color: #5a6478; font-size: 12.5px; max-width: 1100px; }
nav a { margin-right: 14px; color: #2456a6; text-decoration: none; } nav { margin: 8px 0 4px; font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid #d5dae3; padding: 3px 8px; vertical-align: top; }
th { background: #f1f3f7; font-weight: 600; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { background: #d7f0d9; font-weight: 700; }
tr.group td { background: #f7f8fa; font-weight: 600; }
table.kv th { text-align: left; white-space: nowrap; } table.kv td { max-width: 1000px; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: #f3f4f7; padding: 0 3px; }
img.plot { max-width: 100%; border: 1px solid #e3e6ec; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots img { width: 600px; max-width: 100%; }
.case { border: 1px solid #d5dae3; border-radius: 4px; margin: 10px 0; padding: 6px 8px; }
.case-head { font-weight: 600; margin-bottom: 4px; }
.case-row { display: flex; flex-wrap: wrap; gap: 10px; }
.mcell { border: 1px solid #e3e6ec; border-radius: 3px; padding: 4px; width: 348px; background: #fafbfc; }
.mcell.own { border-color: #8aa4d6; background: #f3f6fc; }
.mcell .thumbs { display: flex; gap: 4px; } .mcell .thumbs img { width: 170px; height: auto; display: block; }
.mcell .label { font-weight: 600; }
.ok { color: #1d7a32; } .bad { color: #b3261e; }
.reason { color: #b3261e; font-size: 12px; overflow-wrap: anywhere; }
.missing { width: 344px; height: 120px; display: flex; align-items: center; justify-content: center;
           background: #eef0f4; color: #6b7385; font-size: 11px; text-align: center; }
.dots span { display: inline-block; width: 9px; height: 9px; margin-right: 2px; border-radius: 2px; }
.dot-ok { background: #3a9b4f; } .dot-bad { background: #d0453b; }
.matches img { max-width: 100%; width: 640px; border: 1px solid #e3e6ec; }
"""


@dataclass(frozen=True)
class Html:
    """Markup that is already safe (built by these helpers); plain ``str`` values are always escaped."""

    text: str

    def __str__(self) -> str:
        return self.text


def esc(value: Any) -> str:
    """HTML-escaped text of any value (``Html`` passes through)."""
    return value.text if isinstance(value, Html) else html.escape(str(value), quote=True)


def join(parts: Iterable[Html | str]) -> Html:
    """Concatenate markup and text (text escaped)."""
    return Html("".join(esc(p) for p in parts))


def tag(name: str, content: Html | str = "", **attrs: Any) -> Html:
    """``<name attr="...">content</name>``; attribute ``cls`` becomes ``class``; None-valued attributes are left out."""
    attr = "".join(
        f' {("class" if k == "cls" else k).replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None
    )
    return Html(f"<{name}{attr}>{esc(content)}</{name}>")


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...`` of raw file bytes."""
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


def img(data: bytes, alt: str, cls: str | None = None, mime: str | None = None, title: str | None = None) -> Html:
    """An ``<img>`` with the bytes embedded (MIME from the PNG/JPEG signature unless given)."""
    mime = mime or ("image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    return Html(f'<img src="{data_uri(data, mime)}" alt="{esc(alt)}"' + (f' class="{esc(cls)}"' if cls else "")
                + (f' title="{esc(title)}"' if title else "") + ">")  # fmt: skip


def table(
    header: Sequence[Html | str],
    rows: Iterable[Sequence[Html | str | tuple[Html | str, str]]],
    *,
    cls: str | None = None,
    id: str | None = None,  # noqa: A002 - the HTML attribute
    group_rows: dict[int, str] | None = None,
) -> Html:
    """A table; a cell is a value or (value, css class), e.g. ("87.5%", "num best").

    ``group_rows``: {row index: title} inserts a full-width group heading before that row.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        if group_rows and i in group_rows:
            body.append(f'<tr class="group"><td colspan="{len(header)}">{esc(group_rows[i])}</td></tr>')
        cells = []
        for c in row:
            value, css = c if isinstance(c, tuple) else (c, None)
            cells.append(f'<td class="{esc(css)}">{esc(value)}</td>' if css else f"<td>{esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = (f' class="{esc(cls)}"' if cls else "") + (f' id="{esc(id)}"' if id else "")
    return Html(f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def kv_table(items: Iterable[tuple[str, Html | str]]) -> Html:
    """Two-column settings table: name | value."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
    return Html(f'<table class="kv"><tbody>{rows}</tbody></table>')


def page(title: str, subtitle: Html | str, created: str, sections: Sequence[tuple[str, str, Html]]) -> str:
    """The whole document: title, subtitle, creation time, a navigation line and the (anchor, heading, body)
    sections. ``created`` sits alone in the element ``#created`` (the only part that changes between rebuilds)."""
    nav = join(tag("a", heading, href=f"#{anchor}") for anchor, heading, _ in sections)
    body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{esc(content)}</section>' for a, h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{esc(title)}</h1><p class="sub">{esc(subtitle)} &middot; created <span id="{CREATED_ID}">'
        f"{esc(created)}</span></p><nav>{nav}</nav>{body}</body></html>\n"
    )


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
