"""Terminal plumbing of the backup commands: settings loading, database names, times."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from healthplatform.auth.settings import AuthSettings
from healthplatform.core.console import console
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.store import DatabaseName
from healthplatform.settings import Settings

if TYPE_CHECKING:
    from healthplatform.ops.backups.db import DatabaseTarget


class Which(StrEnum):
    health = "health"
    auth = "auth"
    all = "all"

    def names(self) -> list[DatabaseName]:
        return list(DatabaseName) if self is Which.all else [DatabaseName(self.value)]


def load(which: Which | None = None) -> tuple[Settings, AuthSettings | None, BackupSettings]:
    """The settings; the auth service's only when the auth database is involved (a job that
    backs up the health database alone needs no HP_AUTH_* variables)."""
    try:
        auth = AuthSettings() if which is not None and DatabaseName.auth in which.names() else None
        return Settings(), auth, BackupSettings()
    except Exception as exc:  # pydantic names every bad variable
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def shown_url(target: DatabaseTarget) -> str:
    from sqlalchemy.engine import make_url

    return make_url(target.url).render_as_string(hide_password=True)


def when(moment: datetime | float | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
