"""Declarative layout specs (TOML) in ``retinareg/resources/``: chosen by name (``flat``) or by path (``my.toml``).

Every spec has a top-level ``kind``: "triplets" (read by ``vreg prepare``) or "pairs" (read by
``vreg benchmark --pairs-dir`` and ``vreg register --pairs-dir``). The loaders of each kind validate the rest.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from retinareg.errors import VregError
from retinareg.paths import RESOURCES


def available_specs(kind: str) -> list[str]:
    """Names of the bundled specs of one kind."""
    names = []
    for path in sorted(RESOURCES.glob("*.toml")):
        try:
            if tomllib.loads(path.read_text()).get("kind") == kind:
                names.append(path.stem)
        except (tomllib.TOMLDecodeError, OSError):
            continue
    return names


def load_spec(name_or_path: str, kind: str) -> tuple[dict[str, Any], Path]:
    """Parse a spec by bundled name or file path; returns (spec, path). One clear VregError on any problem."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        path = candidate
    else:
        path = RESOURCES / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_specs(kind)) or "none"
        raise VregError(f"unknown {kind} layout {name_or_path!r} (bundled: {known}; or give a path to a .toml spec)")
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise VregError(f"{path}: malformed layout spec ({exc})") from None
    if spec.get("kind") != kind:
        raise VregError(f"{path}: a {kind} layout needs kind = {kind!r} (found {spec.get('kind')!r})")
    return spec, path
