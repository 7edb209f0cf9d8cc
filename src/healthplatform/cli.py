"""`healthplatform`: start services, run migrations, run the whole platform locally.

Every command reads its configuration from ``HP_*`` environment variables
(see `healthplatform settings`); options override the listen address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from healthplatform.apps.process import configure
from healthplatform.auth.cli import auth_cli
from healthplatform.auth.local_token import token
from healthplatform.core.console import configured, console
from healthplatform.fhir.cli import export
from healthplatform.me.cli import timezone
from healthplatform.ops.audit_cli import rederive, verify
from healthplatform.ops.backups.cli import backup_cli, reprocess
from healthplatform.settings import LogFormat, Settings, reference_table

app = typer.Typer(
    help="Health data platform: passkey auth, Health Connect ingestion, clinical narratives.",
    no_args_is_help=True,
    add_completion=False,
)
serve = typer.Typer(help="Start one service (production: one per pod).", no_args_is_help=True)
app.add_typer(serve, name="serve")
app.add_typer(auth_cli, name="auth")
app.add_typer(backup_cli, name="backup")
app.command("reprocess")(reprocess)
app.command("rederive")(rederive)
app.command("verify")(verify)
app.command("timezone")(timezone)
app.command("export")(export)
app.command("token")(token)

HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="TCP port.")]


class Database(StrEnum):
    health = "health"
    auth = "auth"
    all = "all"


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database: Annotated[
        Database, typer.Option(help="Which database: the health data, auth credentials, or all.")
    ] = Database.all,
) -> None:
    """Upgrade database schemas (safe to run from several pods at once)."""
    from healthplatform.auth.cli import load_settings as load_auth_settings
    from healthplatform.db.migrate import AUTH, HEALTH

    for name in (Database.health, Database.auth):
        if database not in (name, Database.all):
            continue
        if name is Database.health:
            upgrade = HEALTH.upgrade(configured(Settings), revision)
        else:
            upgrade = AUTH.upgrade(load_auth_settings(), revision)
        try:
            asyncio.run(upgrade)
        except OSError as exc:
            console.print(f"[red]cannot reach the {name} database:[/red] {exc}")
            raise typer.Exit(1) from exc
        console.print(f"{name} database at revision {revision}")


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option(help="Print the reference table.")] = True,
) -> None:
    """Print every configuration variable with its default and meaning."""
    sys.stdout.write(reference_table())


@serve.command("mcp")
def serve_mcp(
    host: HostOpt = "0.0.0.0",  # noqa: S104 (a container listens on every interface)
    port: PortOpt = 8010,
) -> None:
    """The MCP server for AI assistants (/mcp, streamable HTTP; the API's tokens)."""
    from healthplatform.core.serving import serve as serve_app

    configured(Settings)
    serve_app("healthplatform.apps.serve:mcp_factory", host, port, 1)


@serve.command("api")
def serve_api(
    host: HostOpt = "0.0.0.0",  # noqa: S104 (a container listens on every interface)
    port: PortOpt = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes, each on its own SO_REUSEPORT socket (Linux)."),
    ] = 1,
) -> None:
    """The Health API (uploads, status, history, my data)."""
    from healthplatform.core.serving import serve as serve_app

    configured(Settings)
    serve_app("healthplatform.apps.serve:api_factory", host, port, workers)


@serve.command("etl")
def serve_etl(metrics_port: PortOpt = 9103) -> None:
    """The ETL narrative engine: consumes upload events, writes metrics and narratives."""
    from healthplatform.apps.serve import etl_main

    settings = configured(Settings)
    configure(settings, "etl")
    asyncio.run(etl_main(settings, metrics_port))


@serve.command("auth")
def serve_auth(
    host: HostOpt = "0.0.0.0",  # noqa: S104 (a container listens on every interface)
    port: PortOpt = 8001,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes, each on its own SO_REUSEPORT socket (Linux)."),
    ] = 1,
) -> None:
    """The passkey auth service (WebAuthn ceremonies, tokens, JWKS)."""
    from healthplatform.auth.cli import serve_auth as run

    run(host, port, workers)


@serve.command("relay")
def serve_relay(metrics_port: PortOpt = 9102) -> None:
    """Outbox relay to RabbitMQ plus housekeeping (orphan sweeper, outbox purge)."""
    from healthplatform.apps.serve import relay_main

    settings = configured(Settings)
    configure(settings, "relay")
    asyncio.run(relay_main(settings, metrics_port))


@app.command()
def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Run the whole platform locally: auth, API, ETL worker and web app in one process.

    Embedded defaults: SQLite, a local folder as object store, the outbox table as the
    queue; data lives in HP_DATA_DIR (.data)."""
    from healthplatform.apps.local import local_settings, up_main
    from healthplatform.localrun import PortTaken, bind_port, quiet_server_logs

    settings, auth_settings = local_settings(port)
    if "HP_LOG_FORMAT" not in os.environ:  # readable text on a terminal
        settings = settings.model_copy(update={"log_format": LogFormat.console})
    configure(settings, "up")
    quiet_server_logs()  # uvicorn would print its own 127.0.0.1 URL, where passkeys fail
    try:
        sock = bind_port(host, port)  # before anything starts: a taken port is one line
    except PortTaken as exc:
        console.print(f"[red]cannot start:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that is a clean stop
    with sock, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(up_main(settings, auth_settings, sock))
    console.print("stopped")


@app.command()
def demo(
    username: Annotated[str, typer.Option(help="Account to fill (sign up in the web app first).")],
    samples: Annotated[
        Path | None,
        typer.Option(help="Folder of .avro files; default shared samples or a synthetic week."),
    ] = None,
    port: PortOpt = 8000,
) -> None:
    """Load sample Health Connect files into a local account; a running `up` processes them."""
    from rich.progress import Progress

    from healthplatform.apps.local import local_settings
    from healthplatform.auth.subjects import UnknownUser
    from healthplatform.ops.demo import has_files, load_demo, sample_files
    from healthplatform.uploads import SAMPLE_DESCRIPTION

    settings, auth_settings = local_settings(port)
    default = Path(__file__).resolve().parents[3] / "shared/samples/health-connect"
    folder = samples or default
    synthetic = not has_files(folder)
    if synthetic:
        console.print(
            f"no .avro files in {folder}: loading the synthetic sample week instead "
            f"(labelled {SAMPLE_DESCRIPTION!r} in the web app)"
        )
    files = list(sample_files(folder))
    with Progress(console=console) as bar:
        task = bar.add_task("uploading", total=len(files))
        try:
            accepted = asyncio.run(
                load_demo(
                    settings,
                    auth_settings,
                    username,
                    files,
                    lambda name, _: bar.update(task, advance=1, description=name),
                    SAMPLE_DESCRIPTION if synthetic else "demo data",
                )
            )
        except UnknownUser as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
    new = sum(not a.duplicate for a in accepted)
    console.print(
        f"{new} new uploads, {len(accepted) - new} already there; open "
        f"{settings.public_url}/#/history (the ETL in `healthplatform up` runs them)"
    )


@app.command()
def sweep() -> None:
    """Delete stored objects that no upload references (older than the grace period)."""
    from healthplatform.ops.housekeeping import sweep_orphans
    from healthplatform.runtime import open_resources

    settings = configured(Settings)

    async def run() -> int:
        async with open_resources(settings, "sweep") as res:
            return await sweep_orphans(res, settings.orphan_grace_seconds)

    console.print(f"deleted {asyncio.run(run())} orphaned objects")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
