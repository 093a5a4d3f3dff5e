"""`vreg synth`, `vreg prepare`, `vreg info` through Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.data.h5 import VregH5

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("layout", ["fives-generated", "flat"])
def test_synth_prepare_info(tmp_path: Path, layout: str) -> None:
    src, out = tmp_path / "src", tmp_path / "d.h5"
    r = run("synth", src, "--n", "4", "--layout", layout, "--size", "40", "--seed", "1")
    assert r.exit_code == 0, r.output
    assert "wrote 4 samples" in r.output
    r = run("prepare", src, "-o", out, "--layout", layout, "--split", "0.5,0.25,0.25")
    assert r.exit_code == 0, r.output
    assert "total" in r.output and "cf, fa, oct, octa" in r.output
    d = VregH5(out)
    assert len(d) == 4 and d.size == (40, 40) and sorted(d.splits) == ["test", "train", "train", "val"]
    r = run("info", out)
    assert r.exit_code == 0, r.output
    for text in ("samples", "4", "train 2, val 1, test 1", "40 x 40", "cf, fa, oct, octa", layout, "vreg_version"):
        assert text in r.output, text


def test_synth_drive_vessels_and_resize(tmp_path: Path) -> None:
    src = tmp_path / "src"
    assert run("synth", src, "--n", "2", "--size", "48", "--vessels", "drive").exit_code == 0
    r = run("prepare", src, "-o", tmp_path / "d.h5", "--layout", "fives-generated", "--size", "32")
    assert r.exit_code == 0, r.output
    assert VregH5(tmp_path / "d.h5").image(0, "cf").shape == (32, 32, 3)


def test_corrupt_png_exits_2_names_file_and_writes_nothing(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "d.h5"
    assert run("synth", src, "--n", "3", "--size", "40").exit_code == 0
    bad = src / "2_D" / "2_D_fa_gen.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    r = run("prepare", src, "-o", out, "--layout", "fives-generated")
    assert r.exit_code == 2
    assert "2_D_fa_gen.png" in r.output and "Traceback" not in r.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["src"]
    r = run("prepare", src, "-o", out, "--layout", "fives-generated", "--skip-bad")
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "2_D_fa_gen.png" in r.output
    assert VregH5(out).ids == ["1_A", "3_G"]


def test_prepare_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "d.h5"
    assert run("synth", src, "--n", "2", "--size", "40").exit_code == 0
    out.write_bytes(b"keep me")
    r = run("prepare", src, "-o", out, "--layout", "fives-generated")
    assert r.exit_code == 2 and "--force" in r.output and out.read_bytes() == b"keep me"
    assert run("prepare", src, "-o", out, "--layout", "fives-generated", "--force").exit_code == 0
    assert h5py.is_hdf5(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layout", "nope"], "unknown triplets layout"),
        (["--layout", "flat"], "no samples found"),
        (["--layout", "fives-generated", "--split", "0.5,0.5"], "--split"),
        (["--layout", "fives-generated", "--split", "0.8,0.1,0.1", "--split-file", "x.csv"], "not both"),
    ],
)
def test_prepare_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    src = tmp_path / "src"
    assert run("synth", src, "--n", "1", "--size", "40").exit_code == 0
    r = run("prepare", src, "-o", tmp_path / "d.h5", *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "d.h5").exists()


def test_info_refuses_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    r = run("info", text)
    assert r.exit_code == 2 and "not an HDF5 file" in r.output
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    r = run("info", other)
    assert r.exit_code == 2 and "not a vreg HDF5 file" in r.output
    r = run("info", tmp_path / "missing.h5")
    assert r.exit_code == 2 and "no such file" in r.output


def test_help_lists_data_commands() -> None:
    r = run("--help")
    assert r.exit_code == 0
    for name in ("synth", "prepare", "info"):
        assert name in r.output


def test_sample_copies_the_bundled_pair_as_a_one_pair_folder(tmp_path: Path) -> None:
    from vreg_cli.paths import SAMPLE_DIR

    target = tmp_path / "pairs" / "sample"
    done = runner.invoke(app, ["sample", str(target)])
    assert done.exit_code == 0, done.output
    for name in ("fixed.png", "moving.png", "landmarks.csv"):
        assert (target / name).read_bytes() == (SAMPLE_DIR / name).read_bytes()
    again = runner.invoke(app, ["sample", str(target)])
    assert again.exit_code == 2 and "use --force" in again.output
    assert runner.invoke(app, ["sample", str(target), "--force"]).exit_code == 0
    # the folder is a --pairs-dir in the default layout, as docs/benchmarking.md runs it
    from vreg_cli.data.pairs import find_pairs

    records, bad = find_pairs(target.parent)
    assert [r.name for r in records] == ["sample"] and not bad


def test_synth_file_names_state_the_size_they_have(tmp_path: Path) -> None:
    """The fives-generated layout's first CF name says 512 px: other sizes take its plain candidate."""
    from vreg_cli.data.layouts import load_layout

    spec = load_layout("fives-generated")
    assert spec.output_paths("1_A", 512)["cf"] == "1_A/1_A_cf_512.png"
    assert spec.output_paths("1_A", 128)["cf"] == "1_A/1_A_cf.png"
    assert spec.output_paths("1_A", 128)["fa"] == "1_A/1_A_fa_gen.png"
    done = runner.invoke(app, ["synth", str(tmp_path / "s"), "--n", "1", "--size", "64"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "s" / "1_A" / "1_A_cf.png").is_file() and not list((tmp_path / "s").rglob("*_512.png"))
