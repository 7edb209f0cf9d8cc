"""`healthplatform token --username NAME`: an access token for a local account, so the
README's curl examples work against `healthplatform up` without a browser.

The token is an ordinary access token of a new device session labelled "Command line":
the account page lists it, and revoking it there ends it like any signed-in device. Only
someone who can read the auth database (the `.data` folder locally) can run this, which is
the same trust as the server's own files.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from healthplatform.auth.cli import load_settings
from healthplatform.auth.settings import AuthSettings

console = Console(stderr=True)
CLI_DEVICE_LABEL = "Command line (healthplatform token)"


class UnknownAccount(Exception):
    """No account of that name."""


@dataclass(frozen=True)
class LocalToken:
    token: str
    expires_in: int
    session_id: str


async def issue_local_token(settings: AuthSettings, username: str) -> LocalToken:
    # the database and JWT libraries load only when the command runs (fast `--help`)
    from healthplatform.auth import repository as repo
    from healthplatform.auth.models import DeviceSession, utcnow
    from healthplatform.auth.resources import open_auth_resources
    from healthplatform.auth.tokens import issue_access_token
    from healthplatform.db.engine import transaction

    async with open_auth_resources(settings) as res:
        key = await res.keys.signing_key()
        async with transaction(res.sessions) as session:
            user = await repo.get_user_by_username(session, username)
            if user is None:
                raise UnknownAccount(username)
            now = utcnow()
            device = DeviceSession(
                id=uuid.uuid4(),
                user_id=user.id,
                credential_pk=None,
                label=CLI_DEVICE_LABEL,
                created_at=now,
                last_used_at=now,
                # no refresh token: the session ends when its access token does
                expires_at=now + timedelta(seconds=settings.access_token_ttl),
            )
            session.add(device)
        access = issue_access_token(key, settings, subject=str(user.id), session_id=str(device.id))
    return LocalToken(access.token, access.expires_in, str(device.id))


def token(
    username: Annotated[str, typer.Option(help="The local account (sign up in the web app).")],
) -> None:
    """Print an access token for a local account (for curl: TOKEN=$(healthplatform token
    --username NAME)); it expires like a browser's access token."""
    settings = load_settings()
    if "HP_AUTH_DATA_DIR" not in os.environ:  # as `healthplatform up`: one data folder
        from healthplatform.settings import Settings

        settings = settings.model_copy(update={"data_dir": Settings().data_dir})
    try:
        issued = asyncio.run(issue_local_token(settings, username))
    except UnknownAccount as exc:
        console.print(
            f"[red]no account named {username!r}[/red]: sign up in the web app first "
            "(make run, then open the printed URL)"
        )
        raise typer.Exit(1) from exc
    except OSError as exc:
        console.print(f"[red]cannot reach the auth database:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(issued.token)
    console.print(
        f"access token for {username}, valid {issued.expires_in // 60} min; "
        'use it as -H "Authorization: Bearer $TOKEN"'
    )
