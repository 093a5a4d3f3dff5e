"""Layout specs, split files and options that ended in tracebacks (#46): each is one error line and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.paths import DATA_SPECS, SAMPLE_DIR

runner = CliRunner()


def _one_error(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return " ".join(result.output.split())


def _pairs_spec(tmp_path: Path, fixed: str) -> Path:
    text = (DATA_SPECS / "landmarks-csv.toml").read_text()
    spec = tmp_path / "spec.toml"
    spec.write_text(re.sub(r"^fixed = .*$", f"fixed = [{fixed!r}]", text, flags=re.M))
    return spec


def test_a_deeply_nested_toml_spec_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "deep.toml"
    spec.write_text('kind = "pairs"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    text = _one_error("register", "--pairs-dir", tmp_path, "--pairs-layout", spec, "--out-dir", tmp_path / "o")
    assert "malformed layout spec (nested too deeply)" in text


@pytest.mark.parametrize("glob", ["/etc/*", "/**/fixed.png", "../*/fixed.png"])
def test_globs_must_stay_inside_the_folder_given(tmp_path: Path, glob: str) -> None:
    spec = _pairs_spec(tmp_path, glob)
    text = _one_error("register", "--pairs-dir", tmp_path, "--pairs-layout", spec, "--out-dir", tmp_path / "o")
    assert f"glob '{glob}' must be relative to the folder given" in text


def test_a_triplet_layouts_glob_is_checked_too(tmp_path: Path) -> None:
    text = (DATA_SPECS / "flat.toml").read_text()
    spec = tmp_path / "t.toml"
    spec.write_text(re.sub(r"^glob = .*$", 'glob = "/etc/*"', text, flags=re.M))
    assert "/etc/*" in spec.read_text()
    out = _one_error("prepare", tmp_path, "--out", tmp_path / "d.h5", "--layout", spec)
    assert "glob '/etc/*' must be relative" in out


def test_a_split_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    split = tmp_path / "split.csv"
    split.write_bytes("id,split\ncaf\xe9,train\n".encode("latin-1"))
    (tmp_path / "src").mkdir()
    text = _one_error("prepare", tmp_path / "src", "--out", tmp_path / "d.h5", "--layout", "flat", "--split-file",
                      split)  # fmt: skip
    assert "a split file must be UTF-8 text" in text


@pytest.mark.parametrize(("option", "value"), [("--blur", "1e9"), ("--noise", "1e6"), ("--zoom", "1e4")])
def test_smallfov_window_options_have_an_upper_bound(tmp_path: Path, option: str, value: str) -> None:
    text = _one_error("benchmark", "--pairs-dir", SAMPLE_DIR.parent, "--out", tmp_path / "b", "--method", "sift",
                      "--protocol", "smallfov", option, value)  # fmt: skip
    assert f"{option} " in text and "<= high <=" in text


def test_an_output_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / ("a" * 300 + ".png")
    text = _one_error("register", SAMPLE_DIR / "fixed.png", SAMPLE_DIR / "moving.png", "--method", "sift", "-o", out)
    assert "a file name is at most 255 bytes" in text
