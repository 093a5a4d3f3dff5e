"""Registration methods. The registry (``METHODS``, ``build_method``, ...) lives in :mod:`vreg_cli.methods.registry`
and is reached here on first use, so that importing one method module (or ``vreg_cli.methods.base``) does not load
every method."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vreg_cli.methods.registry import (
        METHOD_NAMES,
        METHODS,
        BuiltMethod,
        Matches,
        Method,
        MethodInfo,
        build_method,
        configured_weights,
        parse_spec,
        resolve_spec,
    )

__all__ = [
    "METHODS", "METHOD_NAMES", "BuiltMethod", "Matches", "Method", "MethodInfo", "build_method",
    "configured_weights", "parse_spec", "resolve_spec",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'vreg_cli.methods' has no attribute {name!r}")
    value = getattr(importlib.import_module("vreg_cli.methods.registry"), name)
    globals()[name] = value
    return value
