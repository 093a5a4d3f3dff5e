"""Terminal output shared by the commands: one rich console (stderr for chatter) and a progress bar factory."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["console", "progress", "progress_after", "stdout", "warn"]


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


@contextlib.contextmanager
def progress_after(total: int, description: str, delay_s: float = 1.0) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n=1)``; a progress bar appears only once the work has taken longer than ``delay_s``
    (quick jobs print nothing)."""
    start, done = time.perf_counter(), 0
    bar: Progress | None = None
    task: TaskID | None = None

    def advance(n: int = 1) -> None:
        nonlocal bar, task, done
        done += n
        if bar is None and time.perf_counter() - start > delay_s:
            bar = progress()
            bar.start()
            task = bar.add_task(description, total=total, completed=done)
        elif bar is not None:
            assert task is not None  # set together with bar
            bar.update(task, completed=done)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}")
