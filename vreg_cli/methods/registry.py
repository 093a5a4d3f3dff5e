"""The method registry: every registration method is built here, from a spec string and a registration context.

Specs: ``auto`` | ``classic`` | ``sift`` | ``loftr`` with comma-separated ``key=value`` options after ``:``, e.g.
``classic:angle_step=6``, ``sift:ratio=0.75``, ``loftr:weights=A.ckpt,prealign=none``. Each method declares its
options once, as a typed dataclass (``ClassicOptions``, ``SiftOptions``, ``LoFTROptions``); ``vreg methods`` lists
them. ``auto`` is loftr when weights are given or configured (``VREG_WEIGHTS`` or ``weights = "..."`` in
``$VREG_CONFIG`` / ``~/.config/vreg/config.toml``), else classic with the bundled LoFTR where classic refuses
(``methods/auto.py``). The command line, ``benchmark``, batch mode and
the scripts all call :func:`build_method`; it returns the method and why it was chosen. Heavy modules (torch) are
imported only when a LoFTR is built.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from vreg_cli.errors import VregError
from vreg_cli.methods.options import Option, declared_options, parse_options
from vreg_cli.specs import read_toml

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext
    from vreg_cli.methods.base import Method

__all__ = [
    "METHODS", "BuiltMethod", "MethodInfo", "build_method", "configured_weights", "parse_spec",
    "resolve_spec", "spec_with_option",
]  # fmt: skip


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: its name, one summary line and its class.

    ``method`` is the :class:`~vreg_cli.methods.base.Method` subclass, or its ``"module:Class"`` path, imported on
    first use (so that reading the registry, e.g. for the command line's help, loads no method). Every method is
    built the same way, ``method(options, context)``, and names its options dataclass in ``Options``.
    """

    name: str
    summary: str
    method: str | type[Method]

    @property
    def method_class(self) -> type[Method]:
        """The method's class (imported on first use)."""
        if not isinstance(self.method, str):
            return self.method
        module, _, name = self.method.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def options_class(self) -> type:
        """The method's options dataclass (``Method.Options``)."""
        return self.method_class.Options

    @property
    def options(self) -> tuple[Option, ...]:
        """Every option the method takes, with its type, default and help line."""
        return declared_options(self.options_class)

    def build(self, options: Any, context: RegistrationContext) -> Method:
        """The method with these options (an instance of :attr:`options_class`) for ``context``."""
        return self.method_class(options, context)


#: Every registration method, by name: the only list. The command line's help, ``vreg methods``, the docs' tables
#: (checked by the tests) and :func:`build_method` read it. A new method is one module plus one entry here
#: (``methods/TEMPLATE.py`` shows one).
METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo(
            "auto",
            "the default: classic, and the bundled loftr from classic's rough start where classic refuses "
            "(loftr with these weights when weights are given or configured)",
            "vreg_cli.methods.auto:AutoMethod",
        ),
        MethodInfo(
            "classic",
            "weight-free: vessel maps, global rotation x scale search, patch refinement (any rotation)",
            "vreg_cli.methods.classic:ClassicMethod",
        ),
        MethodInfo(
            "sift",
            "plain SIFT + ratio test on CLAHE grey images (the naive reference)",
            "vreg_cli.methods.sift:SiftMethod",
        ),
        MethodInfo(
            "loftr",
            "LoFTR matches after classic's pre-alignment (bundled vessel-input model when no weights are given)",
            "vreg_cli.methods.loftr:LoFTRMethod",
        ),
    )
}


class BuiltMethod(NamedTuple):
    """What :func:`build_method` returns: the method and a one-line reason it was chosen (e.g. for ``auto``)."""

    method: Method
    why: str


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"loftr:weights=a.ckpt,size=512"`` -> ``("loftr", {"weights": "a.ckpt", "size": "512"})`` (values as text)."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in METHODS:
        raise VregError(f"unknown method {name!r}; choose one of {', '.join(METHODS)} (see `vreg methods`)")
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise VregError(f"method option {item!r} in {spec!r} is not key=value")
        options[key.strip().lower()] = value.strip()
    return name, options


def _config_file() -> Path:
    if "VREG_CONFIG" in os.environ:
        return Path(os.environ["VREG_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "vreg" / "config.toml"


def configured_weights() -> tuple[str, str] | None:
    """(path, where it was configured) from VREG_WEIGHTS or the config file's ``weights``, else None."""
    if os.environ.get("VREG_WEIGHTS"):
        return os.environ["VREG_WEIGHTS"], "VREG_WEIGHTS"
    path = _config_file()
    if path.is_file():
        value = read_toml(path, "vreg config").get("weights")
        if value:
            return str(value), str(path)
    return None


def resolve_spec(spec: str) -> tuple[str, dict[str, str], str]:
    """Resolve ``auto``: returns (name, options as text, why) with a one-line reason for the choice."""
    name, options = parse_spec(spec)
    if name != "auto":
        return name, options, "requested"
    if "weights" in options or "checkpoint" in options:
        return "loftr", options, "auto: weights given"
    found = configured_weights()
    if found is not None:
        return "loftr", {**options, "weights": found[0]}, f"auto: weights from {found[1]}"
    return "auto", options, "auto: no LoFTR weights given or configured"


def spec_with_option(spec: str, key: str, value: str, *, flag: str) -> str:
    """``spec`` with one more ``key=value`` option (``--weights FILE`` -> ``loftr:weights=FILE``); a VregError naming
    ``flag`` when the method the spec resolves to has no such option (``auto`` with weights resolves to loftr)."""
    name, options = parse_spec(spec)
    resolved = resolve_spec(f"{name}:{key}={value}")[0] if name == "auto" else name
    if not any(o.name == key for o in METHODS[resolved].options):
        takes = [m.name for m in METHODS.values() if any(o.name == key for o in m.options)]
        raise VregError(f"{flag} only applies to {' and '.join(['auto', *takes])}, not {name!r}")
    return f"{name}:" + ",".join(f"{k}={v}" for k, v in {**options, key: value}.items())


def build_method(
    spec: str = "auto", context: RegistrationContext | None = None, *, device: str | None = None
) -> BuiltMethod:
    """The method a spec names, built for ``context`` (default: the default context), and why it was chosen.

    ``device``: where a method with a ``device`` option (loftr) runs, unless the spec sets it (None: the option's
    default, auto = CUDA when present); weight-free methods ignore it.
    """
    from vreg_cli.context import RegistrationContext

    name, raw, why = resolve_spec(spec)
    info = METHODS[name]
    if device is not None and "device" not in raw and any(o.name == "device" for o in info.options):
        raw = {**raw, "device": device}
    options = parse_options(info.options_class, raw, name)
    return BuiltMethod(info.build(options, context or RegistrationContext()), why)
