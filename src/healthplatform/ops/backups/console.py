"""Terminal plumbing of the backup commands: settings loading, readable failures, rich
progress, help texts."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

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

from healthplatform.auth.settings import AuthSettings
from healthplatform.ops.backups.progress import Bar, short_error
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.store import DatabaseName
from healthplatform.settings import Settings

if TYPE_CHECKING:
    from healthplatform.ops.backups.db import DatabaseTarget

console = Console(stderr=True)
out = Console()
T = TypeVar("T")


def reflowed_help(fn: Callable[..., Any]) -> str:
    """The docstring with each paragraph on one line (typer keeps the line breaks of every
    paragraph but the first)."""
    text = inspect.cleandoc(fn.__doc__ or "")
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


class Which(StrEnum):
    health = "health"
    auth = "auth"
    all = "all"

    def names(self) -> list[DatabaseName]:
        return list(DatabaseName) if self is Which.all else [DatabaseName(self.value)]


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


def load(which: Which | None = None) -> tuple[Settings, AuthSettings | None, BackupSettings]:
    """The settings; the auth service's only when the auth database is involved (a job that
    backs up the health database alone needs no HP_AUTH_* variables)."""
    try:
        auth = AuthSettings() if which is not None and DatabaseName.auth in which.names() else None
        return Settings(), auth, BackupSettings()
    except Exception as exc:  # pydantic names every bad variable
        console.print(f"[red]configuration error:[/red] {exc}")
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


def shown_url(target: DatabaseTarget) -> str:
    from sqlalchemy.engine import make_url

    return make_url(target.url).render_as_string(hide_password=True)


def when(moment: datetime | float | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
