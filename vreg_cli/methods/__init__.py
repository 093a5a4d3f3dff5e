"""Registration methods behind one interface, built from a short spec string.

Specs: ``auto`` | ``classic`` | ``sift`` | ``loftr:weights=A.ckpt`` | ``loftr:checkpoint=runs/x/best.ckpt``
(comma-separated ``key=value`` options after ``:``; loftr also takes ``size=512`` and ``prealign=auto|classic|search|
none``). ``auto`` is loftr when weights are given or configured (``VREG_WEIGHTS`` or ``weights = "..."`` in
``$VREG_CONFIG`` / ``~/.config/vreg/config.toml``), else classic. Heavy modules (torch) are imported lazily.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.methods.base import Matches, Method

METHOD_NAMES: tuple[str, ...] = ("auto", "classic", "sift", "loftr")
__all__ = ["METHOD_NAMES", "Matches", "Method", "configured_weights", "make_method", "parse_spec", "resolve_spec"]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"loftr:weights=a.ckpt,size=512"`` -> ``("loftr", {"weights": "a.ckpt", "size": "512"})``."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in METHOD_NAMES:
        raise VregError(f"unknown method {name!r}; choose one of {', '.join(METHOD_NAMES)}")
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
        try:
            value = tomllib.loads(path.read_text()).get("weights")
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise VregError(f"{path}: unreadable vreg config ({exc})") from None
        if value:
            return str(value), str(path)
    return None


def resolve_spec(spec: str) -> tuple[str, dict[str, str], str]:
    """Resolve ``auto``: returns (name, options, why) with a one-line reason for the choice."""
    name, options = parse_spec(spec)
    if name != "auto":
        return name, options, "requested"
    if "weights" in options or "checkpoint" in options:
        return "loftr", options, "auto: weights given"
    found = configured_weights()
    if found is not None:
        return "loftr", {**options, "weights": found[0]}, f"auto: weights from {found[1]}"
    return "classic", {}, "auto: no LoFTR weights given or configured"


def make_method(spec: str = "auto", **search: Any) -> Method:
    """Build a Method from its spec. ``search`` (max_rotation, scale_range) narrows loftr's rotation/scale search.

    The returned object has ``chosen_because`` (why this method ran, e.g. for ``auto``).
    """
    name, options, why = resolve_spec(spec)
    search = {k: v for k, v in search.items() if v is not None}
    method: Method
    allowed = {"sift": {"ratio"}, "classic": set()}.get(name)
    if allowed is not None and set(options) - allowed:
        bad = ", ".join(sorted(set(options) - allowed))
        raise VregError(f"method {name} has no option(s) {bad} (weights/checkpoint belong to loftr)")
    if name == "sift":
        from vreg_cli.methods.sift import SiftMethod

        try:
            method = SiftMethod(**{k: float(v) for k, v in options.items()})
        except ValueError:
            raise VregError(f"sift ratio must be a number, got {options['ratio']!r}") from None
    elif name == "classic":
        from vreg_cli.methods.classic import ClassicConfig, ClassicMethod

        method = ClassicMethod(ClassicConfig(**search))
    else:
        from vreg_cli.methods.loftr import LoFTRMethod

        method = LoFTRMethod.from_options(options, **search)
    method.chosen_because = why  # type: ignore[attr-defined]
    return method
