"""A new method is one module plus one registry entry: methods/TEMPLATE.py, registered here, runs everywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import vreg_cli
import vreg_cli.methods
from vreg_cli.cli import app
from vreg_cli.geometry import translation_matrix, warp_image
from vreg_cli.methods.registry import METHODS, MethodInfo
from vreg_cli.methods.TEMPLATE import TemplateMethod, TemplateOptions
from vreg_cli.paths import SAMPLE_DIR

runner = CliRunner()
SIDE = 256


@pytest.fixture
def template(monkeypatch: pytest.MonkeyPatch) -> MethodInfo:
    """The template registered under its name for this test only (the one registry entry a new method needs)."""
    info = MethodInfo("template", "phase correlation (the template of a new method)", TemplateMethod)
    monkeypatch.setitem(METHODS, info.name, info)
    return info


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The bundled CF at 256 px and a copy shifted by (12, -7) px, as arrays and files."""
    root = tmp_path_factory.mktemp("shifted")
    fixed = cv2.imread(str(SAMPLE_DIR / "fixed.png"))
    fixed = cv2.resize(fixed, (SIDE, round(SIDE * fixed.shape[0] / fixed.shape[1])), interpolation=cv2.INTER_AREA)
    moving = warp_image(fixed, translation_matrix(12, -7), fixed.shape[:2])
    cv2.imwrite(str(root / "fixed.png"), fixed)
    cv2.imwrite(str(root / "moving.png"), moving)
    return {"fixed": fixed, "moving": moving, "fixed_path": root / "fixed.png", "moving_path": root / "moving.png"}


def test_the_template_is_a_method_the_registry_builds(template: MethodInfo) -> None:
    assert template.options_class is TemplateOptions and {o.name for o in template.options} == {"min_response", "grid"}
    built = vreg_cli.methods.build_method("template:grid=4")
    assert isinstance(built.method, TemplateMethod) and built.method.options == TemplateOptions(grid=4)
    assert "template" in runner.invoke(app, ["methods"]).output
    with pytest.raises(vreg_cli.VregError, match="no option"):
        vreg_cli.methods.build_method("template:bogus=1")


def test_the_template_registers_through_the_api_and_the_command_line(
    template: MethodInfo, shifted: dict, tmp_path: Path
) -> None:
    reg = vreg_cli.register(shifted["fixed"], shifted["moving"], method="template", working_size=SIDE)
    assert reg.ok, reg.reason
    np.testing.assert_allclose(reg.matrix[:2, 2], (-12, 7), atol=0.5)  # moving -> fixed undoes the shift
    out = tmp_path / "warped.png"
    args = ["register", str(shifted["fixed_path"]), str(shifted["moving_path"]), "-o", str(out)]
    result = runner.invoke(app, [*args, "--method", "template", "--working-size", str(SIDE)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "template" in result.output
    weights = runner.invoke(app, [*args, "--method", "template", "--weights", str(out)])
    assert weights.exit_code == 2 and "--weights only applies to auto and loftr, not 'template'" in weights.output


def test_the_template_runs_in_a_batch_and_the_benchmark(template: MethodInfo, shifted: dict, tmp_path: Path) -> None:
    pairs = [(shifted["fixed_path"], shifted["moving_path"], "shifted")]
    table = vreg_cli.register_many(pairs, "template", out_dir=tmp_path / "batch", working_size=SIDE, qa_page=False)
    assert list(table["status"]) == ["ok"], table.to_dict("records")
    # the benchmark: the bundled pair as a one-pair folder of the default layout (fixed, moving, landmarks.csv)
    folder = tmp_path / "pairs" / "sample"
    shutil.copytree(SAMPLE_DIR, folder)
    out = tmp_path / "bench"
    args = ["benchmark", "--pairs-dir", str(folder.parent), "--method", "template", "--bins", "0", "--out", str(out)]
    result = runner.invoke(app, [*args, "--working-size", str(SIDE)])
    assert result.exit_code == 0, result.output
    cases = pd.read_csv(out / "cases.csv")
    assert list(cases["method"]) == ["template"] and cases["status"].iloc[0] in ("ok", "failed")


def test_the_methods_package_exports_what_it_lists() -> None:
    assert sorted(vreg_cli.methods.__all__) == sorted(vreg_cli.methods._EXPORTS)
    for name in vreg_cli.methods.__all__:
        assert getattr(vreg_cli.methods, name) is not None
