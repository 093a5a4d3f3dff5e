"""mkdocs hook (mkdocs.yml ``hooks:``): every public object that docs/api.md documents has a docstring.

mkdocstrings hides an object without a docstring (``show_if_no_docstring: false``) but does not complain, so this hook
loads the package statically with griffe (nothing is imported or run) and logs a warning for each ``::: path`` entry of
api.md, and each public method or property of a class there, that has no docstring; ``mkdocs build --strict`` turns the
warning into a failed build.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.plugins.vreg_docstrings")

_ENTRY = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)


def missing_docstrings(api_page: Path, search_path: Path) -> list[str]:
    """Dotted paths of the objects ``api_page`` documents (and their public members) that have no docstring."""
    import griffe

    entries = _ENTRY.findall(api_page.read_text(encoding="utf-8"))
    packages: dict[str, Any] = {}
    missing = []
    for path in entries:
        top = path.split(".")[0]
        if top not in packages:
            packages[top] = griffe.load(top, search_paths=[str(search_path)], docstring_parser="google")
        obj = packages[top][path.removeprefix(top + ".")] if path != top else packages[top]
        if not obj.has_docstring:
            missing.append(path)
        if obj.is_class:
            for name, member in obj.members.items():
                if name.startswith("_") or member.is_alias or (member.is_attribute and "property" not in member.labels):
                    continue
                if not member.has_docstring:
                    missing.append(f"{path}.{name}")
    return missing


def on_pre_build(config: Any) -> None:
    """Warn (a failure under ``--strict``) for each undocumented public object of the API page."""
    docs_dir = Path(config["docs_dir"])
    api_page = docs_dir / "api.md"
    if not api_page.is_file():
        return
    for path in missing_docstrings(api_page, Path(config["config_file_path"]).parent):
        log.warning("%s has no docstring (docs/api.md documents it; every public function and method needs one)", path)


_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data):`~?([\w.]+)`")


def _griffe_extension() -> type:
    import griffe

    class SphinxRoles(griffe.Extension):
        """Show the docstrings' Sphinx roles (``:class:`Registration```) as code (``Registration``) in the site."""

        def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", obj.docstring.value)

    return SphinxRoles


SphinxRoles = _griffe_extension()
