"""Typed method options: a method declares its options once, as a dataclass, and specs are parsed against it.

A field's type annotation is the option's type (``int``, ``float``, ``str``, ``bool``, ``tuple[float, ...]``,
``int | None``, ``Literal["a", "b"]`` for a choice; a number's range as ``Annotated[float, Range(lo, hi)]``, see
``vreg_cli.limits``), its default is the option's default, and the dataclass docstring's
``Options:`` section (``name: help``, one entry per field, Google style) gives the help line ``vreg methods`` shows.
Spec values are strings (``classic:angle_step=6,radii=24/10/5``): tuples are written with ``/`` between their items,
booleans as ``true|false``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.limits import Range

__all__ = ["Option", "declared_options", "parse_options"]


@dataclass(frozen=True)
class Option:
    """One declared option: name, type (annotation), default, help line and allowed values (empty: any)."""

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    range: Range | None = None

    @property
    def type_name(self) -> str:
        base, optional = _unwrap(self.type)
        if typing.get_origin(base) is tuple:
            item = typing.get_args(base)[0]
            text = f"{item.__name__}/{item.__name__}/..."
        elif typing.get_origin(base) is typing.Literal:
            text = "|".join(self.choices)
        else:
            text = base.__name__
        return f"{text} (optional)" if optional else text

    def parse(self, raw: str, method: str) -> Any:
        """The typed value of spec text ``raw``; VregError naming the method and option when it does not fit."""
        base, optional = _unwrap(self.type)
        text = raw.strip()
        if optional and text.lower() in ("", "none"):
            return None
        try:
            value = _convert(base, text)
        except ValueError:
            raise VregError(f"{method} option {self.name}={raw!r}: expected {self.type_name}") from None
        if self.choices and value not in self.choices:
            raise VregError(f"{method} option {self.name}={raw!r}: choose one of {', '.join(self.choices)}")
        problem = self.range.problem(value) if self.range is not None and value is not None else None
        if problem:
            raise VregError(f"{method} option {self.name}={raw!r}: {problem}")
        return value


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without ``| None`` and ``Annotated`` metadata, whether None is allowed)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _convert(base: Any, text: str) -> Any:
    if typing.get_origin(base) is typing.Literal:
        return text
    if typing.get_origin(base) is tuple:
        args = typing.get_args(base)
        items = [t for t in text.split("/") if t.strip()]
        if not items:
            raise ValueError(text)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], t) for t in items)
        if len(items) != len(args):
            raise ValueError(text)
        return tuple(_convert(a, t) for a, t in zip(args, items, strict=True))
    if base is bool:
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise ValueError(text)
    if base is int:
        return int(text)
    if base is float:
        return float(text)
    if base is str:
        return text
    raise TypeError(f"unsupported option type {base!r}")


def _option_help(options_class: type) -> dict[str, str]:
    """``name -> help`` from the ``Options:`` section of the class docstring (continuation lines are joined)."""
    doc = inspect.getdoc(options_class) or ""
    helps: dict[str, str] = {}
    section = re.search(r"^Options:\n((?:[ \t]+.*\n?|\n)*)", doc, flags=re.MULTILINE)
    if section is None:
        return helps
    name = None
    for line in section.group(1).splitlines():
        entry = re.match(r"^ {4}(\w+): (.*)$", line)
        if entry:
            name = entry.group(1)
            helps[name] = entry.group(2).strip()
        elif name is not None and line.strip():
            helps[name] += " " + line.strip()
    return helps


def declared_options(options_class: type) -> tuple[Option, ...]:
    """The options a dataclass declares, in field order (fields without a default are not options)."""
    hints = typing.get_type_hints(options_class, include_extras=True)
    helps = _option_help(options_class)
    out = []
    for f in dataclasses.fields(options_class):
        if f.default is dataclasses.MISSING or not f.init:
            continue
        base, _ = _unwrap(hints[f.name])
        choices = tuple(typing.get_args(base)) if typing.get_origin(base) is typing.Literal else ()
        rng = next((m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Range)), None)
        out.append(Option(f.name, hints[f.name], f.default, helps.get(f.name, ""), choices, rng))
    return tuple(out)


def parse_options(options_class: type, raw: dict[str, str], method: str) -> Any:
    """An instance of ``options_class`` from spec text; unknown names and bad values are one-line VregErrors."""
    known = {o.name: o for o in declared_options(options_class)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        hint = "it takes none" if not known else "`vreg methods` lists its options"
        raise VregError(f"method {method} has no option(s) {', '.join(unknown)}; {hint}")
    values = {name: known[name].parse(text, method) for name, text in raw.items()}
    try:
        return options_class(**values)
    except ValueError as exc:
        raise VregError(f"method {method}: {exc}") from None
