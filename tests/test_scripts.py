"""The development scripts that build tuning sets (``scripts/``) work from a clean checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.geometry import point_errors
from vreg_cli.io import read_landmarks

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_specs" / "sample"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "scripts" / "pseudo_truth_set.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_pseudo_truth_set_agrees_with_the_hand_marked_landmarks(tmp_path: Path) -> None:
    out = tmp_path / "set"
    proc = _run(str(SAMPLE / "fixed.png"), str(SAMPLE / "moving.png"), str(out), "--name", "s", "--copies", "2")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["s_00", "s_01", "s_checkerboard.png"]
    pf, pm = read_landmarks(out / "s_00" / "landmarks.csv")
    assert len(pf) == 20
    assert (out / "s_01" / "landmarks.csv").read_text() == (out / "s_00" / "landmarks.csv").read_text()
    # spread out over the image, not clustered on one vessel
    assert np.ptp(pm[:, 0]) > 0.5 * 640 and np.ptp(pm[:, 1]) > 0.4 * 530
    # the pseudo truth maps the sample's own hand-marked moving landmarks onto its fixed ones
    m, _ = cv2.estimateAffine2D(pm.astype(np.float32), pf.astype(np.float32))
    hand_f, hand_m = read_landmarks(SAMPLE / "landmarks.csv")
    assert np.median(point_errors(m, hand_m, hand_f)) < 10.0


def test_pseudo_truth_set_user_errors_end_with_one_line(tmp_path: Path) -> None:
    proc = _run(str(tmp_path / "missing.png"), str(SAMPLE / "moving.png"), str(tmp_path / "o"))
    assert proc.returncode == 3 and proc.stderr.strip().count("\n") == 0 and "missing.png" in proc.stderr
    proc = _run(str(SAMPLE / "fixed.png"), str(SAMPLE / "moving.png"), str(tmp_path / "o"), "--points", "3")
    assert proc.returncode == 2 and "--points" in proc.stderr
    assert not (tmp_path / "o").exists()
