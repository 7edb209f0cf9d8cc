"""`healthplatform export`: a person's data from the command line (registered by
``healthplatform.cli``); people use the web app, ``/v1/me/export`` or ``/v1/me/fhir``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from healthplatform.core.console import console, reflowed_help


class ExportFormat(StrEnum):
    fhir = "fhir"
    jsonl = "jsonl"


def export(
    username: Annotated[str, typer.Option(help="The account (as it signs in).")],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="fhir (an R4 Bundle) or jsonl.")
    ] = ExportFormat.fhir,
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Export a person's data: `fhir` writes a FHIR R4 Bundle (docs/fhir.md), `jsonl` the
    JSON lines of /v1/me/export. Streamed: memory stays flat for years of data."""
    from healthplatform.auth.cli import load_settings
    from healthplatform.auth.subjects import UnknownUser, user_subject
    from healthplatform.core.identity import user_key
    from healthplatform.fhir.bundle import bundle_chunks
    from healthplatform.narratives.service import export_lines
    from healthplatform.runtime import Resources, open_resources
    from healthplatform.settings import Settings

    settings = Settings()
    auth_settings = load_settings()
    if "HP_AUTH_DATA_DIR" not in os.environ:  # the local run keeps both databases together
        auth_settings = auth_settings.model_copy(update={"data_dir": settings.data_dir})
    try:
        subject = asyncio.run(user_subject(auth_settings, username))
    except UnknownUser as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    def chunks(res: Resources) -> AsyncIterator[bytes]:
        if format is ExportFormat.fhir:
            return bundle_chunks(res, user_key(subject))
        return export_lines(res, user_key(subject))

    async def work() -> int:
        written = 0
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            async with open_resources(settings, "export") as res:
                async for chunk in chunks(res):
                    sink.write(chunk)
                    written += len(chunk)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
        return written

    written = asyncio.run(work())
    console.print(f"exported {written} bytes ({format.value})")


export.__doc__ = reflowed_help(export)
