"""What each module of the package makes public: every module has ``__all__``, every name in it exists, and no
module (nor a user-facing script: benchmarks/, experiments/, examples/) imports a name from another vreg_cli module
that this module does not list in its ``__all__``. Read with ``ast``: nothing is imported but the lazy packages."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vreg_cli"
#: user-facing code that imports the package as a user would (tests may reach into a module's private parts)
SCRIPTS = ("benchmarks", "experiments", "examples")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "data_specs" not in p.parts}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _declared_all(tree: ast.Module) -> list[str] | None:
    """The module's ``__all__`` (a literal list or tuple of strings), None without one."""
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = node.value
            assert isinstance(value, (ast.List, ast.Tuple)), "__all__ must be a literal list"
            names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            assert len(names) == len(value.elts), "__all__ must list names as strings"
            return names
    return None


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the module binds at its top level (in if/try blocks too): definitions, assignments, imports."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If):
            pending.extend([*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)])
    return names


def _imports(tree: ast.Module) -> Iterator[tuple[str, str, int]]:
    """(module, name, line) of each name taken from another vreg_cli module: ``from vreg_cli.x import name``
    anywhere in the file (functions and TYPE_CHECKING blocks too), and the lazy exports' string maps
    (``{"name": "vreg_cli.x"}``, ``dict.fromkeys(("a", "b"), "vreg_cli.x")``). A submodule is not a name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
            for alias in node.names:
                if f"{node.module}.{alias.name}" not in MODULES:
                    yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if _is_module_text(value) and isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield value.value, key.value, node.lineno  # type: ignore[union-attr]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fromkeys"
            and len(node.args) == 2
            and isinstance(node.args[0], (ast.Tuple, ast.List))
            and _is_module_text(node.args[1])
        ):
            for key in node.args[0].elts:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield node.args[1].value, key.value, node.lineno  # type: ignore[attr-defined]


def _is_module_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODULES


DECLARED = {name: _declared_all(_tree(path)) for name, path in MODULES.items()}


def test_every_module_declares_all() -> None:
    missing = sorted(name for name, names in DECLARED.items() if names is None)
    assert not missing, f"modules without __all__: {missing}"
    assert len(MODULES) > 100  # the walk found the package


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_name_in_all_exists(name: str) -> None:
    declared = DECLARED[name] or []
    assert len(set(declared)) == len(declared), f"{name}.__all__ lists a name twice"
    private = [n for n in declared if n.startswith("_") and not n.endswith("__")]
    assert not private, f"{name}.__all__ lists private names: {private}"
    tree = _tree(MODULES[name])
    missing = [n for n in declared if n not in _bound_names(tree)]
    if missing and any(isinstance(n, ast.Assign) and "__getattr__" in ast.unparse(n) for n in tree.body):
        module = importlib.import_module(name)  # a lazy package: its names appear on first access
        missing = [n for n in missing if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not define: {missing}"


def test_no_module_imports_a_name_another_does_not_export() -> None:
    files = [*MODULES.values(), *(p for folder in SCRIPTS for p in sorted((ROOT / folder).rglob("*.py")))]
    wrong = []
    for path in files:
        for module, name, line in _imports(_tree(path)):
            if name not in (DECLARED[module] or []):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {name} from {module}")
    assert not wrong, "names imported from a module whose __all__ does not list them:\n" + "\n".join(wrong)


def test_the_import_check_sees_each_kind_of_import(tmp_path: Path) -> None:
    """The walk finds a plain, a nested, a TYPE_CHECKING and a lazy-map import, and skips a submodule."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from vreg_cli.geometry import warp_points\n"
        "from vreg_cli.methods import classic\n"
        "if TYPE_CHECKING:\n    from vreg_cli.matches import Matches\n"
        "def f():\n    from vreg_cli.io import read_image\n"
        "LAZY = {'write_qa_page': 'vreg_cli.qa.page'}\n"
        "MORE = dict.fromkeys(('Method',), 'vreg_cli.methods.base')\n",
        encoding="utf-8",
    )
    found = sorted((module, name) for module, name, _ in _imports(_tree(source)))
    assert found == [
        ("vreg_cli.geometry", "warp_points"), ("vreg_cli.io", "read_image"), ("vreg_cli.matches", "Matches"),
        ("vreg_cli.methods.base", "Method"), ("vreg_cli.qa.page", "write_qa_page"),
    ]  # fmt: skip
