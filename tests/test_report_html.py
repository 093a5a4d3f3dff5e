"""The shared page pieces: the base template, the table macros, escaping, lazy Jinja2, templates in the wheel."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jinja2
import pytest

import vreg_cli
from vreg_cli.report_html import CREATED_ID, Cell, _environment, data_uri, num, render

ROOT = Path(__file__).resolve().parent.parent
EVIL = "<script>alert('x')</script>"

PAGE = """{% extends "base.html.j2" %}
{% import "macros.html.j2" as m %}
{% set title = "t " ~ name %}
{% set subtitle = "sub " ~ name %}
{% set sections = [("one", "First " ~ name), ("two", "Second")] %}
{% block one %}{{ m.table(header, rows, id="tbl", groups=groups) }}{% endblock %}
{% block two %}{{ m.kv_table(items) }}{% endblock %}
"""


def _page(**context: object) -> str:
    return _environment().from_string(PAGE).render(created_id=CREATED_ID, created="NOW", **context)


def test_base_page_lays_out_title_nav_sections_and_escapes_every_value() -> None:
    text = _page(
        name=EVIL,
        header=["method", EVIL],
        rows=[[EVIL, num("1")], ["b", Cell("2", "num best")]],
        groups={0: "rates", 1: EVIL},
        items=[("k", EVIL), ("lines", ["a", EVIL])],
    )
    assert text.startswith("<!DOCTYPE html>\n") and "<style>" in text and "</body></html>" in text
    # <title>, h1, subtitle, nav link, h2, header, cell, group heading, settings value and settings line
    assert "<script" not in text and text.count(html.escape(EVIL)) == 10
    assert f'<span id="{CREATED_ID}">NOW</span>' in text
    nav = re.findall(r'<a href="#([^"]+)">', text)
    assert nav == re.findall(r'<section id="([^"]+)">', text) == ["one", "two"]
    body = text.split('id="tbl"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[ >].*?</tr>", body)
    assert len(rows) == 4  # group, row, group, row
    assert rows[0] == '<tr class="group"><td colspan="2">rates</td></tr>'
    assert rows[1] == f'<tr><td>{html.escape(EVIL)}</td><td class="num">1</td></tr>'
    assert rows[2] == f'<tr class="group"><td colspan="2">{html.escape(EVIL)}</td></tr>'
    assert rows[3] == '<tr><td>b</td><td class="num best">2</td></tr>'
    assert f"<tr><th>lines</th><td><div>a</div><div>{html.escape(EVIL)}</div></td></tr>" in text


def test_text_is_escaped_exactly_like_html_escape() -> None:
    """A page's text equals ``html.escape`` of the data (``'`` as ``&#x27;``), so a reason can be searched for."""
    text = _page(name="it's", header=["h"], rows=[], groups={}, items=[])
    assert "<h1>t it&#x27;s</h1>" in text


def test_an_undefined_name_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        _environment().from_string("{{ missing }}").render()


def test_data_uri_sniffs_png_and_jpeg() -> None:
    assert data_uri(b"\x89PNG\r\n").startswith("data:image/png;base64,")
    assert data_uri(b"\xff\xd8\xff").startswith("data:image/jpeg;base64,")


def test_jinja2_is_imported_only_to_render() -> None:
    code = (
        "import sys, vreg_cli, vreg_cli.report_html\n"
        "import vreg_cli.benchmark.html_report, vreg_cli.training.html_report\n"
        "assert 'jinja2' not in sys.modules\n"
        "from vreg_cli.report_html import render\n"
        "render('base.html.j2', title='t', subtitle='s', sections=[], created='c')\n"
        "assert 'jinja2' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_templates_are_found_in_the_package_and_declared_as_package_data() -> None:
    package = Path(vreg_cli.__file__).resolve().parent
    templates = {p for p in (package / "templates").iterdir() if p.is_file()}
    assert {p.name for p in templates} >= {"base.html.j2", "macros.html.j2", "benchmark.html.j2", "training.html.j2"}
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["vreg_cli"]
    declared = {p for pattern in patterns for p in package.glob(pattern)}
    assert templates <= declared, sorted(p.name for p in templates - declared)
    assert render("base.html.j2", title="t", subtitle="s", sections=[], created="c").count("<h1>t</h1>") == 1
