"""The bundled files live inside the package and the wheel declares every one of them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import retinareg
from retinareg.paths import BUNDLED_LOFTR, RESOURCES, SAMPLE_DIR
from retinareg.specs import available_specs

ROOT = Path(__file__).resolve().parent.parent


def test_resources_are_found_inside_the_package() -> None:
    package = Path(retinareg.__file__).resolve().parent
    assert RESOURCES.resolve() == package / "resources"
    assert (SAMPLE_DIR / "landmarks.csv").is_file() and BUNDLED_LOFTR.is_file()
    assert set(available_specs("pairs")) == {"landmarks-csv", "numbered-pairs"}


def test_package_data_declares_every_bundled_file() -> None:
    """A file under resources/ that no package-data glob matches is missing from `pip wheel .`."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["retinareg"]
    package = ROOT / "retinareg"
    declared = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    bundled = {p for p in (package / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert bundled and bundled <= declared, sorted(str(p.relative_to(package)) for p in bundled - declared)


def test_the_tested_kornia_lies_inside_the_declared_bound() -> None:
    """model/loftr.py imports kornia's internal modules: pyproject bounds kornia to the versions tested."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    kornia = next(Requirement(d) for d in dependencies if Requirement(d).name == "kornia")
    assert kornia.specifier.contains(version("kornia")), (version("kornia"), str(kornia.specifier))
    assert not kornia.specifier.contains("99.0"), "kornia needs an upper bound"
