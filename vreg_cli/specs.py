"""Declarative layout specs (TOML) in ``data_specs/``: chosen by name (``flat``) or by path (``my.toml``).

Every spec has a top-level ``kind``: "triplets" (read by ``vreg prepare``) or "pairs" (read by
``vreg benchmark --pairs-dir`` and ``vreg register --pairs-dir``). The loaders of each kind validate the rest.
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.paths import DATA_SPECS


def available_specs(kind: str) -> list[str]:
    """Names of the bundled specs of one kind."""
    names = []
    for path in sorted(DATA_SPECS.glob("*.toml")):
        try:
            if tomllib.loads(path.read_text(encoding="utf-8")).get("kind") == kind:
                names.append(path.stem)
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            continue
    return names


def load_spec(name_or_path: str, kind: str) -> tuple[dict[str, Any], Path]:
    """Parse a spec by bundled name or file path; returns (spec, path). One clear VregError on any problem."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        path = candidate
    else:
        path = DATA_SPECS / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_specs(kind)) or "none"
        raise VregError(f"unknown {kind} layout {name_or_path!r} (bundled: {known}; or give a path to a .toml spec)")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VregError(f"{path}: malformed layout spec ({exc})") from None
    except UnicodeDecodeError:
        raise VregError(f"{path}: a layout spec must be UTF-8 text (TOML); this file is not") from None
    except OSError as exc:
        raise VregError(f"{path}: cannot read the layout spec ({exc.strerror or exc})") from None
    if spec.get("kind") != kind:
        raise VregError(f"{path}: a {kind} layout needs kind = {kind!r} (found {spec.get('kind')!r})")
    return spec, path


#: widest field a template may pad to (``{n:04d}``); ``{id:>999999999}`` would build a gigabyte string
_MAX_TEMPLATE_WIDTH = 64


def format_template(template: str, fields: dict[str, Any], what: str) -> str:
    """``template.format(**fields)`` for a template from a layout spec, which is data, never code.

    Only plain field names are allowed (``{dir}``, ``{n:04d}``): attribute access and indexing (``{dir.__class__}``,
    ``{id[0]}``), conversions and nested or wide format specs are refused with one VregError naming ``what``.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise VregError(f"{what}: template {template!r} is malformed ({exc})") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in fields:
            known = ", ".join("{" + k + "}" for k in fields)
            raise VregError(f"{what}: template {template!r} uses {{{name}}}; it may use only {known}")
        widths = [int(w) for w in re.findall(r"\d+", spec or "")]
        if conversion or "{" in (spec or "") or any(w > _MAX_TEMPLATE_WIDTH for w in widths):
            raise VregError(f"{what}: template {template!r}: only plain fields such as {{{name}}} or {{n:04d}}")
    try:
        return template.format(**fields)
    except (ValueError, TypeError) as exc:
        raise VregError(f"{what}: template {template!r} does not fit its fields ({exc})") from None
