"""Terminal output shared by the commands: one rich console (stderr for chatter) and a progress bar factory."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, highlight=False)
stdout = Console(highlight=False)


def progress(*extra_columns, transient: bool = False) -> Progress:
    """A progress bar with count, elapsed and remaining time; extra columns (e.g. loss) go at the end."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
    )


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}")
