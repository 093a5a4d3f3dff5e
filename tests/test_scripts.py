"""The benchmark harnesses (``benchmarks/``) and experiment recipes (``experiments/``) work from a clean checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vreg_cli.geometry import point_errors
from vreg_cli.io import read_landmarks
from vreg_cli.methods.loftr.options import LoFTROptions

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_specs" / "sample"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "experiments" / "pseudo_truth_set.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
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


@pytest.mark.slow
def test_bench_rough_starts_logs_one_row_per_case(tmp_path: Path) -> None:
    """The rough-start harness end to end on two tiny synthetic CF-FA pairs (identity truth), one bin."""
    import pandas as pd

    from vreg_cli.data.synth import make_triplet
    from vreg_cli.geometry import grid_points
    from vreg_cli.io import write_image

    pairs = tmp_path / "pairs"
    for k in range(2):
        eye = make_triplet(k, size=160)
        folder = pairs / f"eye_{k}"
        folder.mkdir(parents=True)
        write_image(folder / "fixed.png", eye["cf"])
        write_image(folder / "moving.png", eye["fa"])
        pts = grid_points((160, 160), 24, eye["fov"])
        table = pd.DataFrame({"x_fixed": pts[:, 0], "y_fixed": pts[:, 1], "x_moving": pts[:, 0], "y_moving": pts[:, 1]})
        table.to_csv(folder / "landmarks.csv", index=False)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_rough_starts.py"), "--pairs-dir", str(pairs), "--bins", "0",
           "--working-size", "160", "--thresholds", "0.1,0.2,0.3", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(out / "rough_starts.csv")
    assert list(frame.columns) == [
        "case_id", "pair", "bin", "angle", "scale", "status", "error", "start_score", "start_mean_err", "strategy",
        "matches", "inliers", "verified", "n_points", "mean_err", "median_err", "max_err", "sr_me", "sr_mae",
        "correct", "seconds",
    ]  # fmt: skip
    assert sorted(frame["pair"]) == ["eye_0", "eye_1"] and set(frame["bin"]) == {0}
    assert set(frame["status"]) <= {"ok", "no fit", "refused"}, frame["error"].tolist()
    ok = frame[frame["status"] == "ok"]
    assert ((ok["verified"] >= 0) & (ok["verified"] <= 1)).all()
    # identity truth, upright: the rough start and LoFTR land near it, and the errors are in the benchmark's pixels
    assert len(ok) == 2 and (ok["mean_err"] < 15).all(), frame.to_dict("records")
    assert "rough-start acceptance with at least 24 inliers" in proc.stdout
    assert f"{LoFTROptions.rough_min_verified} (default)" in proc.stdout


def _options(argv: list[str]) -> dict[str, str]:
    """``vreg train``'s options as click reads them: the last occurrence of an option wins."""
    opts: dict[str, str] = {}
    for k, tok in enumerate(argv):
        if tok.startswith("--"):
            nxt = argv[k + 1] if k + 1 < len(argv) else ""
            opts[tok] = "" if nxt.startswith("--") or not nxt else nxt
    return opts


def _train_calls(script: str, env: dict[str, str], tmp_path: Path) -> list[dict[str, str]]:
    """Run a training script with a ``vreg`` that only logs its arguments; its ``vreg train`` calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / f"{script}.calls"
    fake = bin_dir / "vreg"
    fake.write_text(f'#!/usr/bin/env bash\n(IFS=$\'\\x1f\'; echo "$*") >> "{log}"\n')
    fake.chmod(0o755)
    full_env = {**os.environ, **env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    # ablations.sh goes on to score the (not written) checkpoints and fails there; only its calls matter here
    subprocess.run(["bash", f"experiments/{script}"], cwd=ROOT, env=full_env, capture_output=True, timeout=120)
    calls = [line.split("\x1f") for line in log.read_text().splitlines()]
    return [_options(c[1:]) for c in calls if c and c[0] == "train"]


@pytest.mark.slow
def test_training_scripts_share_the_small_recipe(tmp_path: Path) -> None:
    """train_small.sh stage 1 and the ablations' `recipe` run pass one recipe; each other variant changes one thing."""
    for name in ("small/data/train256.h5", "abl/data/train256.h5", "abl/data/holdout256.h5"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (stage1,) = _train_calls("train_small.sh", {"RUN": str(tmp_path / "small"), "STEPS": "5"}, tmp_path)
    runs = _train_calls("ablations.sh", {"OUT": str(tmp_path / "abl"), "STEPS": "5", "SEEDS": "0"}, tmp_path)
    by_variant = {Path(r["--out"]).name: r for r in runs}
    assert sorted(by_variant) == ["eps01_s0", "gray_s0", "recipe_s0", "rot180_s0"]
    recipe = ("--arch", "--input", "--max-rotation", "--scale-range", "--photometric", "--modalities", "--batch-size",
              "--lr", "--max-translation")  # fmt: skip
    assert stage1["--arch"] == "small" and stage1["--input"] == "vessels" and stage1["--max-rotation"] == "20"
    for key in recipe:
        assert by_variant["recipe_s0"].get(key) == stage1.get(key), key
    changed = {
        "eps01_s0": {"--vessel-eps": "0.1"},
        "gray_s0": {"--input": "gray"},
        "rot180_s0": {"--max-rotation": "180"},
    }
    for run, change in changed.items():
        for key in recipe:
            assert by_variant[run].get(key) == change.get(key, stage1.get(key)), (run, key)
        for key, value in change.items():
            assert by_variant[run][key] == value


HARNESSES = sorted((ROOT / "benchmarks").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("harness", HARNESSES, ids=[h.stem for h in HARNESSES])
def test_every_benchmark_harness_has_a_recipe_and_a_help(harness: Path) -> None:
    """Each harness behind a figure of the docs is run by a `just bench-*` recipe and explains itself (--help)."""
    justfile = (ROOT / "justfile").read_text(encoding="utf-8")
    assert f"benchmarks/{harness.name}" in justfile, f"no just recipe runs {harness.name}"
    done = subprocess.run([sys.executable, str(harness), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout.lower()
