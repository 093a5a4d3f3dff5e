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
from vreg_cli.paths import DATA_SPECS, check_input_file

__all__ = ["available_specs", "check_glob", "format_template", "load_spec", "read_toml"]


#: largest layout spec or config file read (TOML); the bundled specs are under 2 KB
_MAX_SPEC_BYTES = 1 << 20


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A small TOML file as a dict; one VregError naming ``path`` and ``what`` it is for anything else (not UTF-8,
    malformed, larger than ``_MAX_SPEC_BYTES``, nested deeper than Python's parser recurses, unreadable)."""
    check_input_file(path, f"a {what}")
    try:
        if path.stat().st_size > _MAX_SPEC_BYTES:
            raise VregError(f"{path}: a {what} is small TOML; this file is over {_MAX_SPEC_BYTES >> 20} MB")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VregError(f"{path}: malformed {what} ({exc})") from None
    except UnicodeDecodeError:
        raise VregError(f"{path}: a {what} must be UTF-8 text (TOML); this file is not") from None
    except RecursionError:
        raise VregError(f"{path}: malformed {what} (nested too deeply)") from None
    except OSError as exc:
        raise VregError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def check_glob(pattern: str, what: str) -> str:
    """PATTERN when it is a glob relative to a root (``*``, ``**/fixed.png``); VregError naming ``what`` for an
    absolute one or one that climbs out of the root (``/etc/*``, ``../x/*``)."""
    parts = Path(pattern).parts
    if Path(pattern).is_absolute() or pattern.startswith(("/", "\\")) or ".." in parts:
        raise VregError(f"{what}: glob {pattern!r} must be relative to the folder given (no leading '/', no '..')")
    return pattern


def available_specs(kind: str) -> list[str]:
    """Names of the bundled specs of one kind."""
    names = []
    for path in sorted(DATA_SPECS.glob("*.toml")):
        try:
            if read_toml(path, "layout spec").get("kind") == kind:
                names.append(path.stem)
        except VregError:
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
    spec = read_toml(path, "layout spec")
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
