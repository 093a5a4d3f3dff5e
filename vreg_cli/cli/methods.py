"""`vreg methods`: the registered methods and every option they take (read from the method registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from vreg_cli.cli import app, user_errors

__all__: list[str] = []


@app.command()
@user_errors
def methods(
    name: Annotated[str | None, typer.Argument(help="Show only this method.", show_default=False)] = None,
) -> None:
    """List the registration methods and their options (use them as --method NAME:key=value,key=value)."""
    from rich.table import Table

    from vreg_cli.errors import VregError
    from vreg_cli.methods import METHODS
    from vreg_cli.ui import stdout

    if name is not None and name not in METHODS:
        raise VregError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    stdout.print("[bold]auto[/]: loftr when weights are given or configured (VREG_WEIGHTS, config file), else classic")
    for info in METHODS.values():
        if name is not None and info.name != name:
            continue
        table = Table(title=f"[bold]{info.name}[/]: {info.summary}", title_justify="left", expand=False)
        for column in ("option", "type", "default", "meaning"):
            table.add_column(column, overflow="fold")
        for opt in info.options:
            default = "/".join(f"{v:g}" for v in opt.default) if isinstance(opt.default, tuple) else opt.default
            kind = opt.type_name + (f" in {opt.range.describe()}" if opt.range is not None else "")
            table.add_row(opt.name, kind, "-" if default is None else str(default), opt.help)
        stdout.print(table)
    stdout.print("Tuples are written with '/': classic:radii=24/10/5. Pixel sizes are stated at a 640 px long side.")
