"""Options renamed so that one flag name means one thing across commands (``--pairs`` is register's CSV of image
pairs): the old spelling keeps working for one release, with a one-line deprecation warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app

runner = CliRunner()


def _run(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("command", "new"),
    [("benchmark", "--modalities"), ("train", "--modalities"), ("report", "--examples")],
)
def test_old_and_new_name_together_is_one_error(command: str, new: str, tmp_path: Path) -> None:
    value = "1" if command == "report" else "cf-fa"
    where = [tmp_path] if command == "report" else ["--out", tmp_path / "o"]
    code, text = _run(command, *where, "--pairs", value, new, value)
    assert code == 2 and f"error: give {new} only (--pairs is its old name)" in text, text


def test_benchmark_pairs_is_the_deprecated_name_of_modalities(tiny_h5: Path, tmp_path: Path) -> None:
    code, text = _run("benchmark", "--data", tiny_h5, "--pairs", "cf-xx", "--method", "sift", "--out", tmp_path / "b")
    assert "warning: --pairs is deprecated here and goes in the next release: it is --modalities now" in text, text
    # the value went where --modalities goes: the HDF5 source refuses the unknown modality pair by name
    assert code == 2 and "cf-xx" in text, text


def test_train_pairs_is_the_deprecated_name_of_modalities(tmp_path: Path) -> None:
    code, text = _run("train", "--pairs", "cf-fa", "--max-steps", "1")
    assert "warning: --pairs is deprecated here" in text and "it is --modalities now" in text, text
    assert code == 2 and "error: give --data and --out" in text, text
    # and, resuming, the old name is refused like the new one: the run's modality pairs are fixed
    code, text = _run("train", "--resume", tmp_path, "--pairs", "cf-fa")
    assert code == 2 and "--modalities cannot change when resuming" in text, text


def test_help_shows_the_new_names_only() -> None:
    for command, new in (("benchmark", "--modalities"), ("train", "--modalities"), ("report", "--examples")):
        text = runner.invoke(app, [command, "--help"], terminal_width=100).output
        assert new in text and "--pairs " not in text.replace("--pairs-dir", "").replace("--pairs-layout", ""), text
