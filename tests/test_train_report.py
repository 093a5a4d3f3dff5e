"""Training reports: curves.png written by a short run and refreshed at validation; `vreg report RUN_DIR`."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from train_helpers import write_minima_file, write_synth_h5
from typer.testing import CliRunner

from retinareg.cli import app
from retinareg.data.dataset import AugmentConfig
from retinareg.training.config import TrainConfig
from retinareg.training.curves import CURVES
from retinareg.training.loop import train

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


def test_two_step_run_writes_curves(run_dir: Path) -> None:
    path = run_dir / CURVES
    assert path.read_bytes()[:4] == b"\x89PNG"
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert (metrics["kind"] == "val").sum() == 1  # the validation that redrew it


def test_report_command_writes_a_self_contained_page(run_dir: Path) -> None:
    result = runner.invoke(app, ["report", str(run_dir), "--pairs", "1"])
    assert result.exit_code == 0, result.output
    text = (run_dir / "report.html").read_text()
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links and not [u for u in links if re.match(r"(?i)https?://", u.strip())]
    assert 'id="freeze-table"' in text and "backbone" in text and "frozen" in text
    assert 'id="metrics-table"' in text and "val_precision" in text
    assert "validation item 0" in text  # the matches of one validation pair for best.ckpt
    assert text.count('src="data:image/') >= 2  # curves + matches


def test_report_of_a_folder_without_checkpoints_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "best.ckpt" in result.output
