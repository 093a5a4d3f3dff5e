"""The `vreg` command line: a thin Typer layer. Each submodule registers its commands on ``app``."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar, overload

import typer
from rich.markup import escape

from vreg_cli import __version__
from vreg_cli.errors import VregError
from vreg_cli.ui import console, warn

try:  # typer >= 0.20 carries its own click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer depends on click itself
    from click.exceptions import ClickException  # type: ignore[assignment]  # older typer: click's own class

__all__ = [
    "app",
    "field_default",
    "main",
    "parse_numbers",
    "parse_range",
    "renamed_option",
    "show_default",
    "shown_default",
    "user_errors",
]


class _OneLineErrors(typer.core.TyperGroup):
    """The command group, with usage errors (an unknown option, a value outside an option's range, a missing
    argument) as the package's own: one ``error:`` line and exit 2, instead of click's usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        # TyperGroup.main's own signature, passed on by keyword with standalone_mode=False
        given: dict[str, Any] = {
            "args": args,
            "prog_name": prog_name,
            "complete_var": complete_var,
            "windows_expand_args": windows_expand_args,
            **extra,
        }
        if not standalone_mode:
            return super().main(standalone_mode=False, **given)
        try:
            code = super().main(standalone_mode=False, **given)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            text = " ".join(exc.format_message().split())
            if text:  # (no text: `vreg` alone, whose help was printed instead)
                console.print(f"[bold red]error:[/] {escape(text)}{escape(where)}", soft_wrap=True)
            raise SystemExit(exc.exit_code) from None
        except typer.Abort:
            console.print("[bold red]interrupted[/]")
            raise SystemExit(130) from None
        raise SystemExit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="vreg",
    cls=_OneLineErrors,
    help="Register colour fundus photos (fixed) with fluorescein angiograms or OCT en-face images (moving).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def user_errors(fn: F) -> F:
    """Turn a VregError into one line and its exit code instead of a traceback: ``error:`` (red) for bad input,
    ``refused:`` (yellow) for a result vreg does not trust (exit 3: a refusal is an answer, not a failure)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VregError as exc:
            # soft_wrap: never break the one-line message (file paths stay copyable and greppable); escaped: a
            # message's brackets ('vreg-cli[dask]', a path 'scan[1].png') are text, not rich markup
            label = "[bold yellow]refused:[/]" if exc.exit_code == 3 else "[bold red]error:[/]"
            console.print(f"{label} {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def field_default(owner: type, name: str) -> Any:
    """The default of dataclass ``owner``'s field ``name`` (its default_factory called): the one owner of a CLI
    option's default, which the option's help shows through ``shown_default``."""
    for f in dataclasses.fields(owner):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise ValueError(f"{owner.__name__}.{name} has no default")
    raise ValueError(f"{owner.__name__} has no field {name!r}")


def show_default(value: Any) -> str:
    """A default as the option is typed: sequences comma-separated ('0.8,1.25'; a long one with a space after each
    comma, so that `--help` wraps it at 80 columns instead of cutting it), floats without a trailing '.0'."""
    if isinstance(value, (tuple, list)):
        text = ",".join(show_default(v) for v in value)
        return text.replace(",", ", ") if len(text) > 18 else text
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def shown_default(owner: type, name: str) -> str:
    """The default of ``owner.name`` as an option's ``show_default`` (click prints it as '[default: ...]'), for the
    options that default to None so that ``--resume`` can tell "not given" from a value."""
    return show_default(field_default(owner, name))


def renamed_option(new: str, old: str, value: T | None, old_value: T | None) -> T | None:
    """The value of option NEW, also accepted under its old name OLD for one release with a deprecation warning
    (``--pairs`` of ``train`` and ``benchmark`` became ``--modalities``: ``--pairs`` names a CSV of image pairs in
    ``register``). Giving both is an error."""
    if old_value is None:
        return value
    if value is not None:
        raise VregError(f"give {new} only ({old} is its old name)")
    warn(f"{old} is deprecated here and goes in the next release: it is {new} now")
    return old_value


def parse_numbers(text: str, option: str, count: tuple[int, ...]) -> tuple[float, ...]:
    """'0.9,1.1' -> (0.9, 1.1) for an option that takes comma-separated numbers; ``count`` lists allowed lengths."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise VregError(f"{option} {text!r}: expected comma-separated numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise VregError(f"{option} {text!r}: expected finite numbers (not nan or inf)")
    if len(values) not in count:
        raise VregError(f"{option} {text!r}: expected {' or '.join(str(c) for c in count)} number(s)")
    return values


@overload
def parse_range(text: str, option: str) -> tuple[float, float]: ...
@overload
def parse_range(text: None, option: str) -> None: ...
@overload
def parse_range(text: str | None, option: str) -> tuple[float, float] | None: ...
def parse_range(text: str | None, option: str) -> tuple[float, float] | None:
    """'LOW,HIGH' with 0 < LOW <= HIGH (scale ranges); None stays None (option not given)."""
    if text is None:
        return None
    lo, hi = parse_numbers(text, option, (2,))
    if not 0 < lo <= hi:
        raise VregError(f"{option} {text!r}: expected LOW,HIGH with 0 < LOW <= HIGH (e.g. 0.5,2)")
    return lo, hi


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vreg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """vreg: multimodal retinal image registration."""


def _register_commands() -> None:
    # Imported for their side effect of adding commands to ``app``; each module imports heavy
    # dependencies (torch) lazily so `vreg --help` stays fast.
    # The order here is the order of `vreg --help`: the data path from top to bottom.
    import importlib

    for name in ("data", "train", "register", "qa", "methods", "benchmark", "report"):
        importlib.import_module(f"vreg_cli.cli.{name}")


_register_commands()


def main() -> None:
    app(prog_name="vreg")  # the name in messages, also under `python -m vreg_cli`
