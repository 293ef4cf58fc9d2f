"""Progress bars (rich) shared by training, encoding, downloads and image commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


class Bar:
    """A handle on one progress task: advance it and show extra fields."""

    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, *, completed: float | None = None, total: float | None = None, info: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, total=total, info=info)


@contextmanager
def progress_bar(
    description: str, total: float | None, unit: str = "", enabled: bool = True, counts: bool = True
) -> Iterator[Bar]:
    """A live progress bar on stderr (quiet when stderr is not a terminal or ``enabled`` is False);
    ``counts=False`` hides the done/total column (for totals in units a user does not count, such as pixels)."""
    if not enabled or not sys.stderr.isatty():
        yield Bar(None, None)
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn() if unit != "B" and counts else TextColumn(""),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total, info="")
        yield Bar(progress, task)
