"""Terminal plumbing of the commands: the consoles, readable failures, rich progress,
help texts."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from healthplatform.core.progress import Bar, short_error

console = Console(stderr=True)
out = Console()
T = TypeVar("T")


def reflowed_help(fn: Callable[..., Any]) -> str:
    """The docstring with each paragraph on one line (typer keeps the line breaks of every
    paragraph but the first)."""
    text = inspect.cleandoc(fn.__doc__ or "")
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


class _RichBar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task

    def total(self, n: int) -> None:
        self.progress.update(self.task, total=n)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)


class RichReporter:
    """Steps as lines, long copies as progress bars (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, text: str) -> None:
        self.progress.console.print(f"[cyan]>[/cyan] {text}")

    def bar(self, description: str) -> Bar:
        return _RichBar(self.progress, self.progress.add_task(description, total=None))


@contextmanager
def reporter() -> Iterator[RichReporter]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        yield RichReporter(progress)


def configured(settings_class: Callable[[], T], what: str = "configuration") -> T:
    """``settings_class()``, or one line naming every bad variable and exit code 2."""
    try:
        return settings_class()
    except Exception as exc:  # pydantic's ValidationError names every bad variable
        console.print(f"[red]{what} error:[/red] {exc}")
        raise typer.Exit(2) from exc


def run(work: Callable[[], Coroutine[Any, Any, T]], what: str) -> T:
    """Run ``work``; any failure becomes one readable line and exit code 1."""
    try:
        return asyncio.run(work())
    except typer.Exit:
        raise
    except Exception as exc:
        console.print(f"[red]{what} failed:[/red] {short_error(exc)}")
        raise typer.Exit(1) from exc
