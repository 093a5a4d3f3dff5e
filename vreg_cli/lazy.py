"""Lazy exports for a package's ``__init__`` (PEP 562): a public name's module is imported on first access.

    _EXPORTS = {"register": "vreg_cli.api", ...}
    __getattr__ = lazy_exports(__name__, _EXPORTS, globals())

So ``import vreg_cli`` (or ``vreg_cli.methods``, ``vreg_cli.qa``) loads nothing heavy; the first use of a name loads
its module and keeps the value in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module path) on first access."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    return __getattr__
