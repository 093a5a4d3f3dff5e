"""Registration methods. The registry (``METHODS``, ``build_method``, ...) lives in :mod:`vreg_cli.methods.registry`
and the interface (``Method``, ``Matches``) in :mod:`vreg_cli.methods.base`; both are reached here on first use, so
that importing one method module (or ``vreg_cli.methods.base``) does not load every method."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vreg_cli.lazy import lazy_exports

if TYPE_CHECKING:
    from vreg_cli.methods.base import Matches, Method
    from vreg_cli.methods.registry import (
        METHODS,
        BuiltMethod,
        MethodInfo,
        build_method,
        configured_weights,
        parse_spec,
        resolve_spec,
        spec_with_option,
    )

#: public name -> the module that defines it (loaded on first access, PEP 562)
_EXPORTS = {
    **dict.fromkeys(("Matches", "Method"), "vreg_cli.methods.base"),
    **dict.fromkeys(
        (
            "METHODS",
            "BuiltMethod",
            "MethodInfo",
            "build_method",
            "configured_weights",
            "parse_spec",
            "resolve_spec",
            "spec_with_option",
        ),  # fmt: skip
        "vreg_cli.methods.registry",
    ),
}
__all__ = [
    "METHODS", "BuiltMethod", "Matches", "Method", "MethodInfo", "build_method", "configured_weights",
    "parse_spec", "resolve_spec", "spec_with_option",
]  # fmt: skip


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
