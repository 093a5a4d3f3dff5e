"""Training reports: curves.png written by a short run and refreshed at validation; `vreg report RUN_DIR`."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from train_helpers import write_minima_file, write_synth_h5
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.data.dataset import AugmentConfig
from vreg_cli.report_html import EmbeddedPicture, num, render
from vreg_cli.training.config import TrainConfig
from vreg_cli.training.curves import CURVES
from vreg_cli.training.html_report import TrainingPage, ValidationMatches
from vreg_cli.training.loop import train

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 2-step run on 128 px synthetic triplets with one validation (at the last step)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("train_report")
    data = write_synth_h5(root / "d.h5", n=3, size=128, n_val=1)
    weights = write_minima_file(root / "minima.ckpt", seed=1)
    cfg = TrainConfig(
        data=str(data), out=str(root / "run"), weights=str(weights), max_steps=2, batch_size=1, workers=0,
        val_every=100, val_max_items=1, log_every=1, pairs=("cf-fa",), augment=AugmentConfig(max_rotation=30),
    )  # fmt: skip
    train(cfg)
    return root / "run"


@pytest.mark.slow
def test_two_step_run_writes_curves(run_dir: Path) -> None:
    path = run_dir / CURVES
    assert path.read_bytes()[:4] == b"\x89PNG"
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert (metrics["kind"] == "val").sum() == 1  # the validation that redrew it


@pytest.mark.slow
def test_report_command_writes_a_self_contained_page(run_dir: Path) -> None:
    result = runner.invoke(app, ["report", str(run_dir), "--examples", "1"])
    assert result.exit_code == 0, result.output
    text = (run_dir / "report.html").read_text()
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links and not [u for u in links if re.match(r"(?i)https?://", u.strip())]
    assert 'id="freeze-table"' in text and "backbone" in text and "frozen" in text
    assert 'id="metrics-table"' in text and "val_precision" in text
    assert "validation item 0" in text  # the matches of one validation pair for best.ckpt
    assert text.count('src="data:image/') >= 2  # curves + matches
    assert ">None<" not in text  # a setting that is not set reads as a dash


def test_report_of_a_folder_without_checkpoints_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "best.ckpt" in result.output


def _page(**changes: object) -> TrainingPage:
    """A tiny hand-made report page (no run, no model); ``changes`` replace its fields."""
    page = TrainingPage(
        subtitle="runs/x · 2 steps · minima LoFTR, input grey",
        checkpoint="best.ckpt",
        config=[("data", "<script>alert('data')</script>.h5"), ("lr", "0.0001")],
        freeze_rows=[
            ["backbone", "frozen", num("10"), num("50.0%")],
            ["total", "50.0% trainable", num("20"), num("100%")],
        ],
        curves="data:image/png;base64,AAAA",
        metrics_header=["validation metric", "best (best.ckpt, step 2)", "last validation (step 2)"],
        metrics_rows=[["val_precision", num("0.5"), num("0.25")]],
        last_train=[("loss", "1.2")],
        validation=ValidationMatches(
            "d.h5", True, True, "grey", [EmbeddedPicture("data:image/jpeg;base64,B", "item <0>")]
        ),
    )
    return replace(page, **changes)


def test_report_template_lays_out_sections_tables_and_escapes_config() -> None:
    text = render("training.html.j2", page=_page(), created="NOW")
    assert re.findall(r'<section id="([^"]+)"><h2>([^<]+)</h2>', text) == [
        ("config", "Config"),
        ("freeze", "Freeze policy"),
        ("curves", "Curves"),
        ("metrics", "Best and last metrics"),
        ("matches", "Validation matches (best.ckpt)"),
    ]
    assert "<script" not in text and "<th>data</th><td>&lt;script&gt;alert(&#x27;data&#x27;)&lt;/script&gt;.h5" in text
    freeze = text.split('id="freeze-table"')[1].split("</table>")[0]
    assert '<tr><td>backbone</td><td>frozen</td><td class="num">10</td>' in freeze and freeze.count("<tr>") == 3
    assert '<tr><td>val_precision</td><td class="num">0.5</td><td class="num">0.25</td></tr>' in text
    assert "<h3>Last logged training step</h3>" in text and '<img src="data:image/png;base64,AAAA"' in text
    assert (
        '<div class="matches"><div>item &lt;0&gt;</div><img src="data:image/jpeg;base64,B" alt="item &lt;0&gt;">'
        in text
    )


def test_report_template_says_why_it_shows_no_metrics_or_matches() -> None:
    gone = ValidationMatches("<b>gone.h5", False, False, "grey", [])
    text = render("training.html.j2", page=_page(metrics_rows=[], last_train=[], validation=gone), created="NOW")
    assert "<p>no validation ran.</p>" in text and 'id="metrics-table"' not in text and "Last logged" not in text
    assert "data file &lt;b&gt;gone.h5 was not found" in text and 'class="matches"' not in text
    no_split = ValidationMatches("d.h5", True, False, "grey", [])
    assert "d.h5 has no validation split" in render("training.html.j2", page=_page(validation=no_split), created="N")


def test_settings_that_are_not_set_read_as_a_dash_not_none() -> None:
    from vreg_cli.training.html_report import NOT_SET, _config_items

    items = dict(_config_items({"weights": None, "augment": {"scale_range": [0.8, 1.25], "max_shear": None},
                                "freeze": [], "lr": 0.001}))  # fmt: skip
    assert items == {"weights": NOT_SET, "augment": f"scale_range 0.8, 1.25, max_shear {NOT_SET}",
                     "freeze": NOT_SET, "lr": "0.001"}  # fmt: skip
    assert not any("None" in v for v in items.values())
