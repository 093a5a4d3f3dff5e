"""`vreg benchmark` end to end: HDF5 mode with synthetic data, a numbered-pairs folder, resume, workers, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.paths import SAMPLE_DIR

runner = CliRunner()
OUTPUTS = ("cases.csv", "summary.csv", "summary.md", "success_vs_rotation.png")


@pytest.fixture(scope="module")
def numbered_dir(tmp_path_factory) -> Path:
    """The bundled real pair in the users' numbered layout (<root>/eye1/p01_01.png, ...)."""
    root = tmp_path_factory.mktemp("numbered")
    folder = root / "eye1"
    folder.mkdir()
    shutil.copy(SAMPLE_DIR / "fixed.png", folder / "p01_01.png")
    shutil.copy(SAMPLE_DIR / "moving.png", folder / "p01_02.png")
    lm = pd.read_csv(SAMPLE_DIR / "landmarks.csv")
    for side, suffix in (("fixed", "01"), ("moving", "02")):
        pts = lm[[f"x_{side}", f"y_{side}"]].to_numpy()
        (folder / f"p01_{suffix}.txt").write_text("".join(f"{x:g} {y:g}\n" for x, y in pts))
    return root


def _invoke(*args: str):
    result = runner.invoke(app, ["benchmark", *args])
    return result, result.output.replace("\n", "")  # rich wraps long lines at 80 columns


@pytest.mark.slow
def test_hdf5_mode_with_classic_and_sift(tiny_h5: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = ["--data", str(tiny_h5), "--split", "test", "--modalities", "cf-fa,cf-oct", "--bins", "0,90"]
    result, text = _invoke(*args, "--method", "classic", "--method", "sift", "--out", str(out))
    assert result.exit_code == 0, text
    assert all((out / name).is_file() for name in OUTPUTS)
    cases = pd.read_csv(out / "cases.csv")
    assert len(cases) == 2 * 2 * 2 * 2  # methods x samples x modality pairs x bins
    assert set(cases["method"]) == {"classic", "sift"} and set(cases["modality"]) == {"cf-fa", "cf-oct"}
    assert (cases["n_points"] > 50).all()
    # Same cases for both methods.
    per_method = [
        g.sort_values("case_id")[["case_id", "angle", "scale"]].to_numpy() for _, g in cases.groupby("method")
    ]
    assert (per_method[0] == per_method[1]).all()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["bin"].astype(str)) == {"0", "90", "all"}
    md = (out / "summary.md").read_text()
    assert "long-side-640" in md and "cases per method: 8" in md
    assert "vreg benchmark" in text and "SR_ME" in text
    assert (out / "success_vs_rotation.png").read_bytes()[:4] == b"\x89PNG"


def test_working_size_and_method_options_reach_the_run(tiny_h5: Path, tmp_path: Path) -> None:
    """--working-size and classic's spec options go into the registration context and into run.json / cases.csv."""
    out = tmp_path / "bench"
    args = ["--data", str(tiny_h5), "--split", "test", "--modalities", "cf-fa", "--bins", "0", "--working-size", "128"]
    result, text = _invoke(*args, "--method", "classic:angle_step=12", "--out", str(out))
    assert result.exit_code == 0, text
    run = json.loads((out / "run.json").read_text())
    assert run["register"]["working_size"] == 128 and run["register"]["max_rotation"] == 180.0
    assert set(pd.read_csv(out / "cases.csv")["method_spec"]) == {"classic:angle_step=12"}


@pytest.mark.slow
def test_numbered_pairs_resize_512_resume_and_workers(numbered_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = ["--pairs-dir", str(numbered_dir), "--pairs-layout", "numbered-pairs", "--error-scale", "resize-512"]
    args += ["--bins", "0,45", "--method", "sift", "--out", str(out)]
    result, text = _invoke(*args)
    assert result.exit_code == 0, text
    cases = pd.read_csv(out / "cases.csv")
    assert list(cases["pair"]) == ["eye1/p01"] * 2 and (cases["n_points"] == 20).all()
    assert (cases["error_scale"] == "resize-512").all()
    assert "resize-512" in (out / "summary.md").read_text()
    # A second run without --resume refuses to overwrite; with --resume it skips every case.
    result, text = _invoke(*args)
    assert result.exit_code == 2 and "--resume" in text
    result, text = _invoke(*args, "--resume")
    assert result.exit_code == 0, text
    assert "0/0" in text
    again = pd.read_csv(out / "cases.csv")
    pd.testing.assert_frame_equal(again, cases)
    # Worker processes give the same numbers as one process.
    result, text = _invoke(*args[:-1], str(tmp_path / "w2"), "--workers", "2")
    assert result.exit_code == 0, text
    parallel = pd.read_csv(tmp_path / "w2" / "cases.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(parallel, cases.drop(columns="seconds"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--error-scale", "bogus"], "--error-scale"),
        (["--bins", "0,200"], "--bins"),
        (["--bins", "a"], "--bins"),
        (["--scale-jitter", "1.2,1.0"], "--scale-jitter"),
        (["--method", "nope"], "unknown method"),
        (["--pairs-layout", "nope"], "unknown pairs layout"),
        (["--data", "x.h5"], "exactly one of --data"),
        (["--model", "projective"], "unknown model"),
        (["--method", "classic:angle_step=0"], "angle_step='0': must lie in [1, 90]"),
        (["--seed", "-1"], "--seed must lie in [0, 4294967295]"),
    ],
)
def test_user_errors(numbered_dir: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    base = ["--pairs-dir", str(numbered_dir), "--pairs-layout", "numbered-pairs", "--out", str(tmp_path / "o")]
    methods = [] if "--method" in extra else ["--method", "sift"]
    result, text = _invoke(*base, *methods, *extra)
    assert result.exit_code == 2 and message in text, text


def test_skip_bad_lists_the_bad_pair_and_goes_on(numbered_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    shutil.copytree(numbered_dir, root)
    (root / "eye2").mkdir()
    shutil.copy(root / "eye1" / "p01_01.png", root / "eye2" / "p02_01.png")  # no _02.png
    args = ["--pairs-dir", str(root), "--pairs-layout", "numbered-pairs", "--method", "sift", "--bins", "0"]
    result, text = _invoke(*args, "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "p02_01.png" in text and "no moving image" in text
    result, text = _invoke(*args, "--out", str(tmp_path / "b"), "--skip-bad")
    assert result.exit_code == 0 and "skipped bad pair" in text and "p02_01.png" in text
