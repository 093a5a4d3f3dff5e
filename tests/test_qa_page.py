"""The QA page of a batch (issue 33): rows worst first, linked and cached pictures, safe names and escaping, the
`vreg qa` command, and the page as headless Chromium renders it (status filter, paging and the pair view from the URL
hash)."""

from __future__ import annotations

import csv
import html
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from browser_helpers import SKIP_REASON, dump_dom, find_chromium
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.qa import write_qa_page
from vreg_cli.qa.config import QaConfig
from vreg_cli.qa.rows import PairRow, picture_keys, worst_first
from vreg_cli.qa.thumbs import SUFFIXES, PictureJob

COLUMNS = [
    "name", "status", "reason", "method", "produced_by", "decision", "matches", "inliers", "inlier_ratio",
    "rotation_deg", "scale", "seconds", "lm_mean", "lm_median", "lm_max", "fixed", "moving", "output", "transform",
]  # fmt: skip
#: a pair name that would run script if it were ever parsed as markup (in the page source or by the page's script)
EVIL = (
    'x</script><script>document.documentElement.dataset.pwned="1"</script>'
    '<img src=x onerror="document.documentElement.dataset.pwned=2">'
)
#: the failed rows in worst-first order: no inlier count first, then fewest inliers
FAILED_ORDER = ["refused_none", "refused_5", EVIL]
ORDER = ["broken", *FAILED_ORDER, "ok_12", "ok_50"]

# CI sets VREG_REQUIRE_BROWSER=1 (and installs chromium): there a missing browser fails the browser tests
needs_chromium = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("VREG_REQUIRE_BROWSER"), reason=SKIP_REASON
)


def _fundus(h: int = 80, w: int = 96, shift: int = 0) -> np.ndarray:
    """A tiny RGB picture with a disc and a few lines (so a checkerboard and an overlay have something to show)."""
    img = np.zeros((h, w, 3), np.uint8)
    cv2.circle(img, (w // 2 + shift, h // 2), min(h, w) // 2 - 2, (170, 80, 40), -1)
    for k in range(4):
        cv2.line(img, (10 + 20 * k + shift, 5), (30 + 15 * k + shift, h - 5), (230, 200, 190), 2)
    return img


def _row(name: str, status: str, **values: object) -> dict[str, object]:
    return {"name": name, "status": status, **values}


@pytest.fixture
def batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake batch out-dir: ok, failed and error rows, absolute and relative paths, a corrupt and a missing image."""
    monkeypatch.chdir(tmp_path)  # relative paths in the summary are relative to where `vreg register` ran
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    out.mkdir()
    cv2.imwrite(str(images / "fixed.png"), _fundus())
    cv2.imwrite(str(images / "moving.png"), _fundus(shift=4)[:, :, 1])
    cv2.imwrite(str(out / "ok_50.png"), _fundus(shift=1))
    cv2.imwrite(str(out / "ok_12.png"), _fundus(shift=3))
    (images / "corrupt.png").write_bytes(b"this is not a PNG")
    fixed, moving = str(images / "fixed.png"), "images/moving.png"
    rows = [
        _row("ok_50", "ok", matches=60, inliers=50, inlier_ratio=0.83, rotation_deg=-12.5, scale=1.01, lm_mean=1.25,
             lm_median=1.1, lm_max=2.5, fixed=fixed, moving=moving, output="out/ok_50.png"),
        _row("ok_12", "ok", matches=20, inliers=12, inlier_ratio=0.6, rotation_deg=3.0, scale=0.99, fixed=fixed,
             moving=moving, output=str(out / "ok_12.png")),
        _row("refused_5", "failed", reason="too few inliers (5 < 12)", matches=9, inliers=5, fixed=fixed,
             moving=moving),
        _row("refused_none", "failed", reason="no vessel correspondences", fixed=fixed, moving=moving),
        _row(EVIL, "failed", reason="<img src=x onerror=alert(1)>", matches=10, inliers=7, fixed=fixed, moving=moving),
        _row("broken", "error", reason="images/corrupt.png: not a readable image", fixed="images/corrupt.png",
             moving="images/gone.png"),
    ]  # fmt: skip
    with (out / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return out


def _page_rows(out: Path) -> list[dict[str, object]]:
    """The JSON array the page embeds."""
    text = (out / "index.html").read_text()
    data = re.search(r'<script type="application/json" id="qa-data">(.*?)</script>', text, re.S)
    assert data is not None
    return json.loads(data.group(1))


def test_worst_first_order() -> None:
    def row(name: str, status: str, inliers: str = "", lm_mean: str = "") -> PairRow:
        return PairRow({"name": name, "status": status, "inliers": inliers, "lm_mean": lm_mean}, name)

    rows = [
        row("ok_many", "ok", "80"), row("fail_9", "failed", "9"), row("ok_few", "ok", "15"),
        row("err_b", "error"), row("fail_none", "failed"), row("err_a", "error"), row("new_status", "skipped"),
        row("ok_few_bad_lm", "ok", "15", "7.5"), row("ok_few_good_lm", "ok", "15", "0.5"),
    ]  # fmt: skip
    assert [r.name for r in worst_first(rows)] == [
        "err_a", "err_b", "new_status", "fail_none", "fail_9", "ok_few_bad_lm", "ok_few_good_lm", "ok_few", "ok_many",
    ]  # fmt: skip


def test_picture_keys_stay_inside_the_qa_folder(tmp_path: Path) -> None:
    names = ["../../etc/passwd", "a/b", "a_b", ".hidden", "..", "", EVIL, "A_B", "é ü"]
    keys = picture_keys(names)
    assert len(set(k.lower() for k in keys.values())) == len(names)
    qa = tmp_path / "qa"
    for key in keys.values():
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", key), key
        for letter in SUFFIXES:
            path = PictureJob(qa, key, None, None, None).path(letter)
            assert path.parent == qa and path.resolve().parent == qa.resolve()


def test_page_and_pictures(batch: Path) -> None:
    before = {p for p in batch.parent.rglob("*") if p.is_file()}
    page = write_qa_page(batch, progress=False)
    assert page == batch / "index.html"
    made = {p for p in batch.parent.rglob("*") if p.is_file()} - before
    qa = batch / "qa"
    assert made - {page} and all(p.parent == qa and p.suffix == ".jpg" for p in made - {page})
    rows = {r["n"]: r for r in _page_rows(batch)}
    assert [r["n"] for r in _page_rows(batch)] == ORDER
    # ok rows: checkerboard, overlay, fixed and warped at display size (the relative output path is found too)
    assert sorted(rows["ok_50"]["p"]) == sorted("cofw") and sorted(rows["ok_12"]["p"]) == sorted("cofw")
    # refused rows: fixed and moving thumbnails and display images; the corrupt / missing images give none
    assert sorted(rows["refused_5"]["p"]) == sorted("FfMm")
    assert rows["broken"]["p"] == ""
    for r in rows.values():
        for letter in r["p"]:
            picture = cv2.imread(str(qa / f"{r['k']}{SUFFIXES[letter]}"))
            assert picture is not None and max(picture.shape[:2]) <= QaConfig().display_side
    cb = cv2.imread(str(qa / f"{rows['ok_50']['k']}_cb.jpg"))
    assert max(cb.shape[:2]) == 96  # a small image is never enlarged
    assert rows["ok_50"]["lm"] == 1.25 and rows["ok_50"]["lx"] == 2.5 and rows["ok_50"]["i"] == 50
    text = page.read_text()
    assert "data:image" not in text  # pictures are linked, never embedded
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?https?:", text)


def test_landmark_column_only_when_some_pair_has_landmarks(batch: Path) -> None:
    write_qa_page(batch, progress=False)
    assert "landmark error mean / max" in (batch / "index.html").read_text()  # ok_50 has landmarks
    rows = list(csv.DictReader((batch / "summary.csv").open()))
    for row in rows:
        row.update(lm_mean="", lm_median="", lm_max="")
    with (batch / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = write_qa_page(batch, progress=False).read_text()
    assert "landmark error" not in text and "const LANDMARKS = false;" in text


def test_pictures_are_cached_by_mtime(batch: Path) -> None:
    write_qa_page(batch, progress=False)
    qa = batch / "qa"
    first = {p.name: p.stat().st_mtime_ns for p in qa.iterdir()}
    write_qa_page(batch, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in qa.iterdir()} == first  # nothing rendered again
    warped = batch / "ok_12.png"
    later = max(first.values()) / 1e9 + 10
    os.utime(warped, (later, later))
    write_qa_page(batch, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in qa.iterdir()}
    key = {r["n"]: r["k"] for r in _page_rows(batch)}["ok_12"]
    changed = {n for n in after if after[n] != first[n]}
    assert changed == {f"{key}{SUFFIXES[c]}" for c in "cofw"}
    # a pair that left the summary loses its pictures
    lines = (batch / "summary.csv").read_text().splitlines()
    (batch / "summary.csv").write_text("\n".join(line for line in lines if not line.startswith("ok_12,")) + "\n")
    write_qa_page(batch, progress=False)
    assert not list(qa.glob(f"{key}*"))


def test_names_and_reasons_cannot_inject_markup(batch: Path) -> None:
    text = write_qa_page(batch, progress=False).read_text()
    assert "<script>document" not in text and "<img src=x" not in text
    assert text.count("<script") == 2  # the data block and the page's own script, nothing else
    rows = {r["n"]: r for r in _page_rows(batch)}
    assert rows[EVIL]["r"] == "<img src=x onerror=alert(1)>"  # the data itself is unchanged


def test_cli_qa(batch: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["qa", str(empty)])
    assert result.exit_code == 2
    assert "summary.csv: not found" in result.output and len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["qa", str(batch), "--rows-per-page", "50"])
    assert result.exit_code == 0, result.output
    assert (batch / "index.html").is_file() and "const PER_PAGE = 50;" in (batch / "index.html").read_text()


def _shown(dom: str) -> list[tuple[str, str]]:
    """(name, status) of every table row the page rendered, in order."""
    rows = re.findall(r'<tr data-name="([^"]*)" data-status="([^"]*)"', dom)
    return [(html.unescape(n), html.unescape(s)) for n, s in rows]


@pytest.mark.browser
@needs_chromium
def test_page_renders_in_chromium(batch: Path) -> None:
    write_qa_page(batch, progress=False, config=QaConfig(rows_per_page=2))
    url = (batch / "index.html").resolve().as_uri()
    dom = dump_dom(url)  # no state: all rows, first page
    assert _shown(dom) == [("broken", "error"), ("refused_none", "failed")]
    assert re.search(r'<body[^>]*data-rendered-ms="[0-9.]+"', dom)
    dom = dump_dom(url + "#status=failed")
    assert _shown(dom) == [(n, "failed") for n in FAILED_ORDER[:2]]
    dom = dump_dom(url + "#status=failed&page=2")
    assert _shown(dom) == [(EVIL, "failed")]
    assert "data-pwned" not in dom  # shown as text, never run
    # the name is text (its separators followed by <wbr>, the places where it may wrap)
    assert f'<td class="name">{html.escape(EVIL, quote=False)}</td>' in dom.replace("<wbr>", "")
    assert "&lt;img src=x" in dom and '<img src="x"' not in dom
    dom = dump_dom(url + "#page=3")
    assert _shown(dom) == [("ok_12", "ok"), ("ok_50", "ok")]
    assert '<td class="name">ok_<wbr>50</td>' in dom  # a long name wraps after "_", not inside a word
    assert dom.count("landmark error mean / max") == 1  # ok_50 has landmarks: the column is there
    assert dom.count('src="qa/') == 4  # the two thumbnails of each ok row, as linked files


@pytest.mark.browser
@needs_chromium
def test_pair_view_in_chromium(batch: Path) -> None:
    write_qa_page(batch, progress=False)
    url = (batch / "index.html").resolve().as_uri()
    dom = dump_dom(url + "#pair=ok_50")
    assert re.search(r'<body[^>]*data-viewer="swipe"', dom)
    key = {r["n"]: r["k"] for r in _page_rows(batch)}["ok_50"]
    assert f'src="qa/{key}_f.jpg"' in dom and f'src="qa/{key}_w.jpg"' in dom
    dom = dump_dom(url + "#pair=ok_50&view=flicker")
    assert re.search(r'<body[^>]*data-viewer="flicker"', dom)
    dom = dump_dom(url + "#pair=refused_5&view=flicker")  # nothing to swipe or flicker: fixed and moving side by side
    assert re.search(r'<body[^>]*data-viewer="side"', dom)
    key = {r["n"]: r["k"] for r in _page_rows(batch)}["refused_5"]
    assert f'src="qa/{key}_m.jpg"' in dom


def test_relative_paths_found_from_another_folder(batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vreg qa` run elsewhere than the batch: relative inputs are found beside OUT_DIR, outputs inside it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write_qa_page(batch, progress=False)
    rows = {r["n"]: r for r in _page_rows(batch)}
    assert sorted(rows["ok_50"]["p"]) == sorted("cofw") and sorted(rows["refused_5"]["p"]) == sorted("FfMm")


@pytest.mark.slow
def test_pictures_rendered_in_worker_processes(batch: Path) -> None:
    write_qa_page(batch, progress=False, config=QaConfig(workers=2))
    rows = {r["n"]: r for r in _page_rows(batch)}
    assert sorted(rows["ok_50"]["p"]) == sorted("cofw") and sorted(rows["refused_5"]["p"]) == sorted("FfMm")
    assert len(list((batch / "qa").glob("*.jpg"))) == sum(len(r["p"]) for r in rows.values())


def test_bench_script_runs(tmp_path: Path) -> None:
    """benchmarks/bench_qa_page.py on 12 rows: every row gets its own 4 pictures; Chromium shows all 12 when present."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(root / "benchmarks" / "bench_qa_page.py"), "--rows", "12", "--repeat", "1"]
    proc = subprocess.run([*cmd, "--work", str(tmp_path / "w"), "--json", str(out)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["rows"] == 12 and result["pictures"] == 48
    if find_chromium() is not None:
        assert result["open_first_page_rows_shown"] == 12 and 0 < result["open_first_page_rendered_ms"] < 10_000
