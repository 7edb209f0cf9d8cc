"""Command-line pieces of the auth service, for ``healthplatform.cli`` to mount:
``serve_auth`` (``healthplatform serve auth``) and the ``auth_cli`` group (``rotate-keys``,
``maintain``, ``settings``); ``healthplatform migrate --database auth`` migrates."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthplatform.auth.settings import AuthSettings, reference_table

if TYPE_CHECKING:
    from fastapi import FastAPI

console = Console(stderr=True)
auth_cli = typer.Typer(help="Passkey auth service: keys, database, settings.", no_args_is_help=True)


def load_settings() -> AuthSettings:
    try:
        return AuthSettings()
    except Exception as exc:  # pydantic's ValidationError names every bad variable
        console.print(f"[red]auth configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def auth_factory() -> FastAPI:
    """Uvicorn factory (one app per worker process); logging from the shared ``HP_LOG_*``."""
    from healthplatform.auth.app import create_auth_app
    from healthplatform.core.logging import configure_logging
    from healthplatform.core.tracing import configure_tracing
    from healthplatform.settings import Settings

    shared = Settings()
    settings = AuthSettings()
    configure_logging("auth", shared.log_level, shared.log_format.value)
    configure_tracing(
        "auth",
        settings.environment,
        shared.otel_exporter_otlp_endpoint,
        shared.otel_sample_ratio,
    )
    return create_auth_app(settings)


def serve_auth(host: str = "0.0.0.0", port: int = 8001, workers: int = 1) -> None:  # noqa: S104
    """Run the auth service with uvicorn (the database must be migrated)."""
    from healthplatform.core.serving import serve

    load_settings()  # fail fast, before starting workers
    serve("healthplatform.auth.cli:auth_factory", host, port, workers)


@auth_cli.command("rotate-keys")
def rotate_keys_command(
    force: Annotated[
        bool, typer.Option(help="Stage a new key even if the active one is young.")
    ] = False,
) -> None:
    """Advance the signing-key lifecycle one step (pending -> active -> retired -> deleted)."""
    from healthplatform.auth.keys import rotate

    report = asyncio.run(rotate(load_settings(), force=force))
    typer.echo(
        f"created={report.created} activated={report.activated} "
        f"retired={report.retired} deleted={report.deleted}"
    )


@auth_cli.command("maintain")
def maintain_command() -> None:
    """Key rotation step plus deletion of long-ended device sessions (run hourly)."""
    from healthplatform.auth.maintenance import run_maintenance

    report = asyncio.run(run_maintenance(load_settings()))
    typer.echo(f"keys: {report.keys.__dict__}; sessions deleted: {report.sessions_deleted}")


@auth_cli.command("settings")
def settings_command() -> None:
    """Print every HP_AUTH_* variable with its default and meaning."""
    sys.stdout.write(reference_table())
