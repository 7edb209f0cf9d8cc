"""`healthplatform`: start services, run migrations, run the whole platform locally.

Every command reads its configuration from ``HP_*`` environment variables
(see `healthplatform settings`); options override the listen address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthplatform.auth.cli import auth_cli
from healthplatform.auth.local_token import token
from healthplatform.auth.settings import AuthSettings
from healthplatform.fhir.cli import export
from healthplatform.me.cli import timezone
from healthplatform.ops.backups.cli import backup_cli, reprocess
from healthplatform.settings import EventsBackend, LogFormat, Settings, reference_table
from healthplatform.verify.cli import rederive, verify

if TYPE_CHECKING:
    from healthplatform.etl.worker import Worker
    from healthplatform.events.delivery import EventConsumer
    from healthplatform.events.relay import OutboxRelay
    from healthplatform.runtime import Resources

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
console = Console(stderr=True)

HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="TCP port.")]


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError names every bad variable
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _logging(settings: Settings, service: str) -> None:
    from healthplatform.core.logging import configure_logging
    from healthplatform.core.tracing import configure_tracing

    configure_logging(service, settings.log_level, settings.log_format.value)
    configure_tracing(
        service,
        settings.environment,
        settings.otel_exporter_otlp_endpoint,
        settings.otel_sample_ratio,
    )


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
            upgrade = HEALTH.upgrade(_settings(), revision)
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


def api_factory() -> object:
    """Uvicorn factory (one app per worker process)."""
    from healthplatform.api.app import create_app
    from healthplatform.core.gc_tuning import tune_for_service

    settings = Settings()
    _logging(settings, "api")
    app = create_app(settings)
    tune_for_service()
    return app


def mcp_factory() -> object:
    """Uvicorn factory of `serve mcp`."""
    from healthplatform.assistant.app import create_mcp_app

    settings = Settings()
    _logging(settings, "mcp")
    return create_mcp_app(settings)


@serve.command("mcp")
def serve_mcp(
    host: HostOpt = "0.0.0.0",  # noqa: S104 (a container listens on every interface)
    port: PortOpt = 8010,
) -> None:
    """The MCP server for AI assistants (/mcp, streamable HTTP; the API's tokens)."""
    from healthplatform.core.serving import serve as serve_app

    _settings()
    serve_app("healthplatform.cli:mcp_factory", host, port, 1)


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

    _settings()
    serve_app("healthplatform.cli:api_factory", host, port, workers)


async def _relay_main(settings: Settings, metrics_port: int) -> None:
    from prometheus_client import start_http_server

    from healthplatform.ops.backups.settings import BackupSettings
    from healthplatform.ops.backups.status import export_status_metrics
    from healthplatform.ops.backups.store import create_backup_store
    from healthplatform.ops.housekeeping import run_housekeeping
    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = _stop_on_signals()
    backup_settings = BackupSettings()
    backups = create_backup_store(settings, backup_settings)
    await backups.start()
    async with open_resources(settings, "relay") as res:
        tasks = [
            asyncio.create_task(run_housekeeping(res, stop)),
            # CronJobs write backups/status.json; the relay turns it into hp_backup_* gauges
            asyncio.create_task(
                _every(
                    300,
                    lambda: export_status_metrics(backups, backup_settings.prefix),
                    stop,
                    at_start=True,
                )
            ),
        ]
        if settings.events_backend is EventsBackend.rabbitmq:
            tasks.append(asyncio.create_task(relay_for(settings, res).run(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            await backups.close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def create_consumer(settings: Settings, res: Resources) -> EventConsumer:
    """RabbitMQ in production, the outbox table locally."""
    if settings.events_backend is EventsBackend.rabbitmq:
        from healthplatform.events.rabbit import RabbitConsumer, Topology

        return RabbitConsumer(
            settings.rabbitmq_url.get_secret_value(),
            Topology.from_settings(settings),
            prefetch=settings.etl_concurrency,
        )
    from healthplatform.events.dbqueue import DatabaseQueue

    return DatabaseQueue(
        res.sessions,
        delivery_limit=settings.rabbitmq_delivery_limit,
        lease_seconds=settings.etl_lease_seconds,
        poll_interval=settings.outbox_poll_interval_seconds,
    )


def relay_for(settings: Settings, res: Resources) -> OutboxRelay:
    """The outbox relay of `serve relay` and `up` (broker mode)."""
    from healthplatform.events.relay import OutboxRelay

    return OutboxRelay.from_settings(
        res.sessions,
        settings,
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval_seconds,
    )


def create_worker(settings: Settings, res: Resources) -> Worker:
    from healthplatform.etl.worker import Worker

    return Worker(
        res,
        create_consumer(settings, res),
        concurrency=settings.etl_concurrency,
        shutdown_grace=settings.etl_shutdown_grace_seconds,
        backoff_base=settings.etl_backoff_base_seconds,
        backoff_max=settings.etl_backoff_max_seconds,
        retry_budget=settings.etl_retry_budget_seconds,
    )


async def _etl_main(settings: Settings, metrics_port: int) -> None:
    from prometheus_client import start_http_server

    from healthplatform.core.gc_tuning import tune_for_service
    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = _stop_on_signals()
    async with open_resources(settings, "etl") as res:
        worker = create_worker(settings, res)
        tune_for_service()
        await worker.run(stop)


@serve.command("etl")
def serve_etl(metrics_port: PortOpt = 9103) -> None:
    """The ETL narrative engine: consumes upload events, writes metrics and narratives."""
    settings = _settings()
    _logging(settings, "etl")
    asyncio.run(_etl_main(settings, metrics_port))


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
    settings = _settings()
    _logging(settings, "relay")
    asyncio.run(_relay_main(settings, metrics_port))


async def _up_main(settings: Settings, auth_settings: AuthSettings, sock: socket.socket) -> None:
    import uvicorn

    from healthplatform.api.app import create_app
    from healthplatform.auth.app import create_auth_app
    from healthplatform.auth.maintenance import run_maintenance
    from healthplatform.core.revocation import MemoryRevocationList
    from healthplatform.core.serving import HTTP_LIMITS
    from healthplatform.db.migrate import AUTH, HEALTH
    from healthplatform.gateway.local import LocalGateway
    from healthplatform.localrun import announce_when_serving
    from healthplatform.ops.housekeeping import run_housekeeping
    from healthplatform.runtime import open_resources

    await HEALTH.upgrade(settings)
    await AUTH.upgrade(auth_settings)
    await run_maintenance(auth_settings)  # a signing key exists before the first login
    data_dir = settings.data_dir.resolve()
    # auth and API share one process: logout and reuse revocations reach /v1 at once
    revocations = MemoryRevocationList(
        settings.jwt_max_lifetime_seconds + settings.jwt_leeway_seconds
    )
    async with open_resources(settings, "up", revocations=revocations) as res:
        stop = asyncio.Event()
        gateway = LocalGateway(
            create_app(settings, resources=res),
            create_auth_app(auth_settings, revocations=revocations),
        )
        server = uvicorn.Server(
            uvicorn.Config(
                gateway,
                log_config=None,
                access_log=False,
                lifespan="on",
                **HTTP_LIMITS,  # request-head deadline and size cap
            )
        )
        background = [
            asyncio.create_task(run_housekeeping(res, stop)),
            asyncio.create_task(create_worker(settings, res).run(stop)),
            asyncio.create_task(_every(3600, lambda: run_maintenance(auth_settings), stop)),
            asyncio.create_task(announce_when_serving(server, settings.public_url, data_dir)),
        ]
        if settings.events_backend is EventsBackend.rabbitmq:
            background.append(asyncio.create_task(relay_for(settings, res).run(stop)))
        try:
            await server.serve(sockets=[sock])
        finally:
            stop.set()
            background[-1].cancel()
            await asyncio.gather(*background, return_exceptions=True)


async def _every(
    seconds: float,
    job: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    at_start: bool = False,
) -> None:
    if at_start:
        with contextlib.suppress(Exception):
            await job()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if not stop.is_set():
            try:
                await job()
            except Exception as exc:
                console.print(f"[yellow]periodic job failed:[/yellow] {exc}")


def local_settings(port: int) -> tuple[Settings, AuthSettings]:
    """Settings of the all-in-one run: one origin at http://localhost:<port> unless
    HP_PUBLIC_URL / HP_AUTH_ALLOWED_ORIGINS say otherwise (WebAuthn needs a host name, so
    the origin is localhost, not 127.0.0.1)."""
    from healthplatform.auth.cli import load_settings

    settings = _settings()
    auth_settings = load_settings()
    if "HP_PUBLIC_URL" not in os.environ:
        settings = settings.model_copy(update={"public_url": f"http://localhost:{port}"})
    if "HP_AUTH_ALLOWED_ORIGINS" not in os.environ:
        auth_settings = auth_settings.model_copy(
            update={"allowed_origins": [settings.public_url.rstrip("/")]}
        )
    if "HP_AUTH_CORS_ORIGINS" not in os.environ:  # one origin list for both services
        auth_settings = auth_settings.model_copy(update={"cors_origins": settings.cors_origins})
    if "HP_AUTH_DATA_DIR" not in os.environ:
        auth_settings = auth_settings.model_copy(update={"data_dir": settings.data_dir})
    return settings, auth_settings


@app.command()
def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Run the whole platform locally: auth, API, ETL worker and web app in one process.

    Embedded defaults: SQLite, a local folder as object store, the outbox table as the
    queue; data lives in HP_DATA_DIR (.data)."""
    from healthplatform.localrun import PortTaken, bind_port, quiet_server_logs

    settings, auth_settings = local_settings(port)
    if "HP_LOG_FORMAT" not in os.environ:  # readable text on a terminal
        settings = settings.model_copy(update={"log_format": LogFormat.console})
    _logging(settings, "up")
    quiet_server_logs()  # uvicorn would print its own 127.0.0.1 URL, where passkeys fail
    try:
        sock = bind_port(host, port)  # before anything starts: a taken port is one line
    except PortTaken as exc:
        console.print(f"[red]cannot start:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that is a clean stop
    with sock, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_up_main(settings, auth_settings, sock))
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

    from healthplatform.ops.demo import (
        SAMPLE_DESCRIPTION,
        DemoError,
        has_files,
        load_demo,
        sample_files,
    )

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
        except DemoError as exc:
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

    settings = _settings()

    async def run() -> int:
        async with open_resources(settings, "sweep") as res:
            return await sweep_orphans(res, settings.orphan_grace_seconds)

    console.print(f"deleted {asyncio.run(run())} orphaned objects")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
