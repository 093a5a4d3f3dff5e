"""The examples run as a user would run them, on the bundled sample."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vreg_cli.paths import SAMPLE_DIR

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_register_folder_prints_a_table_and_plots(tmp_path: Path) -> None:
    """Two pairs: the bundled one registers within the landmark noise; noise as the moving image is refused."""
    shutil.copytree(SAMPLE_DIR, tmp_path / "pairs" / "sample")
    noise = tmp_path / "pairs" / "noise"
    noise.mkdir()
    shutil.copy(SAMPLE_DIR / "fixed.png", noise / "fixed.png")
    cv2.imwrite(str(noise / "moving.png"), np.random.default_rng(0).integers(0, 256, (400, 480), dtype=np.uint8))
    out = tmp_path / "results.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "register_folder.py"), str(tmp_path / "pairs"), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:] if line.split()}
    assert lines["noise"][1] == "False" and lines["sample"][1] == "True"
    assert float(lines["sample"][-2]) < 8.0  # mean landmark error (px): the landmarks' own noise is 1-6 px
    assert cv2.imread(str(out)) is not None
