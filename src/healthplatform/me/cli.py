"""`healthplatform timezone`: show or set a person's home time zone from the command line
(registered by ``healthplatform.cli``; people use the web app or ``/v1/me/timezone``)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from typing import Annotated

import typer

from healthplatform.core.console import console, out, reflowed_help, run


def timezone(
    username: Annotated[str, typer.Option(help="The account (as it signs in).")],
    zone: Annotated[
        str | None,
        typer.Option(help="IANA zone (Europe/Paris), or auto to infer it; omit to show."),
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First local day it applies to (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Show a person's time zone (settings, what their records show, how they were placed),
    or set it from a day on. A change is applied by the ETL worker (`healthplatform up`
    runs one): the person's records are placed again and the days that moved derived."""
    from healthplatform.auth.cli import load_settings
    from healthplatform.auth.subjects import UnknownUser, user_subject
    from healthplatform.core.identity import user_key
    from healthplatform.etl.zones import check_zone
    from healthplatform.me import timezone as zones
    from healthplatform.runtime import open_resources
    from healthplatform.settings import Settings

    settings = Settings()
    auth_settings = load_settings()
    if "HP_AUTH_DATA_DIR" not in os.environ:  # the local run keeps both databases together
        auth_settings = auth_settings.model_copy(update={"data_dir": settings.data_dir})
    try:
        valid_from = date.fromisoformat(first) if first else None
        if zone is not None:
            check_zone(zone)
        subject = asyncio.run(user_subject(auth_settings, username))
    except (ValueError, UnknownUser) as exc:  # UnknownZone is a ValueError
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def work() -> dict[str, object]:
        async with open_resources(settings, "timezone") as res:
            if zone is not None:
                await zones.set_zone(res, user_key(subject), zone, valid_from)
            return await zones.zone_state(res, user_key(subject))

    out.print(json.dumps(run(work, "timezone"), indent=2, default=str))


timezone.__doc__ = reflowed_help(timezone)
