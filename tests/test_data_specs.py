"""The bundled files live in the top-level data_specs/, install as vreg_cli.data_specs, and the wheel carries them."""

from __future__ import annotations

import io
import pickletools
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from vreg_cli.paths import BUNDLED_LOFTR, DATA_SPECS, SAMPLE_DIR
from vreg_cli.specs import available_specs

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _bundled_files() -> set[Path]:
    """Every file of data_specs/ (relative to it), caches aside."""
    folder = ROOT / "data_specs"
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_the_editable_install_reads_the_top_level_data_specs() -> None:
    import vreg_cli.data_specs

    assert Path(vreg_cli.__file__).resolve().parent == ROOT / "vreg_cli"
    assert Path(vreg_cli.data_specs.__file__).resolve().parent == ROOT / "data_specs"
    assert DATA_SPECS.resolve() == ROOT / "data_specs"
    assert (SAMPLE_DIR / "landmarks.csv").is_file() and BUNDLED_LOFTR.is_file()
    assert set(available_specs("pairs")) == {"landmarks-csv", "numbered-pairs"}


def test_the_package_list_names_every_subpackage() -> None:
    """pyproject lists the packages (the data_specs mapping needs it): a new subpackage must be added there."""
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "vreg_cli").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert set(SETUPTOOLS["packages"]) == on_disk | {"vreg_cli.data_specs"}
    assert SETUPTOOLS["package-dir"] == {"vreg_cli.data_specs": "data_specs"}


def test_package_data_declares_every_bundled_file() -> None:
    """A file under data_specs/ that no package-data glob matches is missing from `pip wheel .`."""
    patterns = SETUPTOOLS["package-data"]["vreg_cli.data_specs"]
    folder = ROOT / "data_specs"
    declared = {p.relative_to(folder) for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    bundled = _bundled_files() - {Path("__init__.py")}
    assert bundled and bundled <= declared, sorted(str(p) for p in bundled - declared)


@pytest.mark.slow
def test_the_wheel_carries_data_specs_inside_the_package(tmp_path: Path) -> None:
    """`pip wheel .` puts data_specs/ at vreg_cli/data_specs/ and nothing at the top level but vreg_cli.

    Built from a copy of the sources, so that setuptools' build/ folder never lands in the checkout.
    """
    source = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name in ("vreg_cli", "data_specs"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    built = subprocess.run([*pip_wheel, str(source)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("vreg_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    inside = {Path(n).relative_to("vreg_cli/data_specs") for n in names if n.startswith("vreg_cli/data_specs/")}
    assert _bundled_files() <= inside, sorted(str(p) for p in _bundled_files() - inside)
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "vreg_cli").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"vreg_cli"}


def test_the_tested_kornia_lies_inside_the_declared_bound() -> None:
    """model/loftr.py imports kornia's internal modules: pyproject bounds kornia to the versions tested."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    kornia = next(Requirement(d) for d in dependencies if Requirement(d).name == "kornia")
    assert kornia.specifier.contains(version("kornia")), (version("kornia"), str(kornia.specifier))
    assert not kornia.specifier.contains("99.0"), "kornia needs an upper bound"


def _pickled_globals(checkpoint: bytes | Path) -> set[str]:
    """``module.name`` of every global a torch zip file's pickle refers to (read with pickletools, never run)."""
    archive = zipfile.ZipFile(checkpoint if isinstance(checkpoint, Path) else io.BytesIO(checkpoint))
    (pickle_name,) = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    ops = list(pickletools.genops(archive.read(pickle_name)))
    found = set()
    for i, (op, arg, _) in enumerate(ops):
        if op.name == "GLOBAL":
            found.add(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            found.add(f"{ops[i - 2][1]}.{ops[i - 1][1]}")
    return found


def test_checkpoints_name_no_package_so_they_survive_a_rename() -> None:
    """Checkpoints pickle only torch's and the standard library's types: moving or renaming the package cannot break
    a file written before, and the bundled one loads from data_specs/."""
    import torch

    from vreg_cli.model.config import LoFTRConfig
    from vreg_cli.model.loftr import LoFTRModel, checkpoint_payload, load_model

    buffer = io.BytesIO()
    torch.save(checkpoint_payload(LoFTRModel(LoFTRConfig.for_arch("small"))), buffer)
    for names in (_pickled_globals(BUNDLED_LOFTR), _pickled_globals(buffer.getvalue())):
        assert names and all(n.split(".")[0] in {"torch", "collections", "builtins"} for n in names), names
    assert load_model(BUNDLED_LOFTR).config.input == "vessels"
