"""report.html of `vreg benchmark`: self-contained, success table, pictures per method, refusal reasons, and
`--report-only` rebuilding the same page."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from vreg_cli.benchmark.report_cases import worst_cases
from vreg_cli.cli import app
from vreg_cli.paths import SAMPLE_DIR
from vreg_cli.report_html import CREATED_ID

runner = CliRunner()


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    """classic and sift on the bundled real pair (landmarks-csv layout) at 0 and 90 degrees."""
    root = tmp_path_factory.mktemp("report")
    pair = root / "pairs" / "p1"
    pair.mkdir(parents=True)
    for name in ("fixed.png", "moving.png", "landmarks.csv"):
        shutil.copy(SAMPLE_DIR / name, pair / name)
    out = root / "bench"
    args = ["benchmark", "--pairs-dir", str(root / "pairs"), "--bins", "0,90", "--out", str(out)]
    result = runner.invoke(app, [*args, "--method", "classic", "--method", "sift"])
    assert result.exit_code == 0, result.output
    return out


def _without_created(text: str) -> str:
    return re.sub(rf'<span id="{CREATED_ID}">[^<]*</span>', "", text)


@pytest.mark.slow
def test_report_is_self_contained_with_table_and_pictures(bench: Path) -> None:
    text = (bench / "report.html").read_text()
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links and not [u for u in links if re.match(r"(?i)https?://", u.strip())]
    assert not re.search(r"(?i)<(link|script)\b", text)  # no external stylesheet or script of any kind
    assert 'id="success-table"' in text and "SR_ME" in text and "SR_MAE" in text
    for method in ("classic", "sift"):
        cells = re.findall(rf'<div class="mcell[^"]*"><div><span class="label">{method}</span>(.*?)</div></div></div>',
                           text, flags=re.S)  # fmt: skip
        assert cells and any('<img src="data:image/jpeg;base64,' in c for c in cells), method
    # the plots are embedded too
    assert text.count('src="data:image/png;base64,') >= 2


def test_report_only_rebuilds_the_same_page(bench: Path) -> None:
    first = (bench / "report.html").read_text()
    result = runner.invoke(app, ["benchmark", "--report-only", str(bench)])
    assert result.exit_code == 0, result.output
    again = (bench / "report.html").read_text()
    assert _without_created(again) == _without_created(first)
    assert re.search(rf'<span id="{CREATED_ID}">\d{{4}}-\d\d-\d\d \d\d:\d\d UTC</span>', again)


def test_refused_case_shows_its_reason(bench: Path) -> None:
    cases = pd.read_csv(bench / "cases.csv", keep_default_na=False)
    refused = cases[cases["status"] == "failed"]
    assert len(refused), "precondition: sift is refused on the bundled pair at 0 and 90 degrees"
    text = (bench / "report.html").read_text()
    for reason in refused["error"]:
        assert reason and html.escape(reason) in text


def test_report_only_without_a_run_is_one_line_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["benchmark", "--report-only", str(tmp_path)])
    assert result.exit_code == 2 and "cases.csv" in result.output and "Traceback" not in result.output


def test_worst_cases_puts_failures_first_spreads_over_pairs_and_is_stable() -> None:
    frame = pd.DataFrame({
        "method": ["a"] * 5 + ["b"],
        "case_id": ["c1", "c2", "c3", "c4", "c5", "c1"],
        "pair": ["p", "p", "p", "p", "q", "p"],
        "modality": ["pair"] * 6,
        "mean_err": [1.0, np.inf, 7.0, np.inf, 3.0, 9.0],
        "max_err": [2.0, np.inf, 9.0, np.inf, 5.0, 9.0],
    })  # fmt: skip
    # p's worst (c2, a failure, before c4 by file order), then q's worst, then p's next ones
    assert worst_cases(frame, "a", 4) == ["c2", "c5", "c4", "c3"]
    assert worst_cases(frame, "b", 6) == ["c1"]


def test_report_lays_out_every_section_and_escapes_pair_names_and_reasons(bench: Path, tmp_path: Path) -> None:
    """The page built from a run whose pair name and refusal reason hold markup: the sections in order, the rate
    tables' rows, one grid row per pair, and the markup shown as text, never as an element."""
    import csv

    from vreg_cli.benchmark.html_report import build_report

    evil_pair, evil_reason = "<script>alert('pair')</script>", "<script>alert(1)</script> & more"
    out = tmp_path / "bench"
    shutil.copytree(bench, out)
    with (out / "cases.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["pair"] = evil_pair
        r["error"] = evil_reason if r["status"] == "failed" else r["error"]
    with (out / "cases.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = build_report(out, created="NOW")
    assert "<script" not in text
    assert html.escape(evil_pair) in text and html.escape(evil_reason) in text
    assert re.findall(r'<section id="([^"]+)"><h2>([^<]+)</h2>', text) == [
        ("settings", "Run settings"),
        ("success", "Success per rotation bin"),
        ("plots", "Plots"),
        ("worst", "Worst cases"),
        ("pairs", "Success per pair"),
    ]
    assert re.findall(r'<a href="#([^"]+)">', text) == ["settings", "success", "plots", "worst", "pairs"]
    success = text.split('id="success-table"')[1].split("</table>")[0]
    groups = re.findall(r'<tr class="group"><td colspan="4">([^<]+)</td></tr>', success)
    assert groups == ["success", "SR_ME", "SR_MAE"] and success.count("<tr><td>classic</td>") == 3
    grid = text.split('id="pair-grid"')[1].split("</table>")[0]
    assert grid.count(f"<tr><td>{html.escape(evil_pair)}</td>") == 1  # the one pair, over both bins
    assert grid.count('<span class="dot-bad" title="') == 2 and html.escape(evil_reason) in grid
    assert re.findall(r'<h3 id="(worst-[^"]+)">', text) == ["worst-classic", "worst-sift"]
    assert text.count('<div class="case">') == 4  # each method's 2 cases
    assert f'<div class="reason">{html.escape(evil_reason)}</div>' in text
