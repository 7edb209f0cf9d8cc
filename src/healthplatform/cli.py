"""`healthplatform`: start services, run migrations, run the whole platform locally.

Every command reads its configuration from ``HP_*`` environment variables
(see `healthplatform settings`); options override the listen address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console

from healthplatform.settings import EventsBackend, Settings, reference_table

app = typer.Typer(
    help="Health data platform: passkey auth, Health Connect ingestion, clinical narratives.",
    no_args_is_help=True,
    add_completion=False,
)
serve = typer.Typer(help="Start one service (production: one per pod).", no_args_is_help=True)
app.add_typer(serve, name="serve")
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


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Upgrade the health database schema (safe to run from several pods at once)."""
    from healthplatform.db.migrate import upgrade

    settings = _settings()
    try:
        asyncio.run(upgrade(settings, revision))
    except OSError as exc:
        console.print(f"[red]cannot reach the database:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"database at revision {revision}")


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option(help="Print the reference table.")] = True,
) -> None:
    """Print every configuration variable with its default and meaning."""
    sys.stdout.write(reference_table())


def api_factory() -> object:
    """Uvicorn factory (one app per worker process)."""
    from healthplatform.api.app import create_app

    settings = Settings()
    _logging(settings, "api")
    return create_app(settings)


@serve.command("api")
def serve_api(
    host: HostOpt = "0.0.0.0",  # noqa: S104 (a container listens on every interface)
    port: PortOpt = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """The Health API (uploads, status, history, my data)."""
    import uvicorn

    _settings()
    uvicorn.run(
        "healthplatform.cli:api_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


async def _relay_main(settings: Settings, metrics_port: int) -> None:
    from prometheus_client import start_http_server

    from healthplatform.events.rabbit import RabbitPublisher, Topology
    from healthplatform.events.relay import OutboxRelay
    from healthplatform.ops.housekeeping import run_housekeeping
    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = _stop_on_signals()
    async with open_resources(settings, "relay") as res:
        tasks = [asyncio.create_task(run_housekeeping(res, stop))]
        if settings.events_backend is EventsBackend.rabbitmq:
            publisher = RabbitPublisher(
                settings.rabbitmq_url.get_secret_value(), Topology.from_settings(settings)
            )
            relay = OutboxRelay(
                res.sessions,
                publisher,
                batch_size=settings.outbox_batch_size,
                poll_interval=settings.outbox_poll_interval_seconds,
            )
            tasks.append(asyncio.create_task(relay.run(stop)))
        await asyncio.gather(*tasks)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@serve.command("relay")
def serve_relay(metrics_port: PortOpt = 9102) -> None:
    """Outbox relay to RabbitMQ plus housekeeping (orphan sweeper, outbox purge)."""
    settings = _settings()
    _logging(settings, "relay")
    asyncio.run(_relay_main(settings, metrics_port))


async def _up_main(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from healthplatform.api.app import create_app
    from healthplatform.db.migrate import upgrade
    from healthplatform.ops.housekeeping import run_housekeeping
    from healthplatform.runtime import open_resources

    await upgrade(settings)
    data_dir = settings.data_dir.resolve()
    async with open_resources(settings, "up") as res:
        stop = asyncio.Event()
        api = create_app(settings, resources=res)
        server = uvicorn.Server(
            uvicorn.Config(
                api, host=host, port=port, log_config=None, access_log=False, lifespan="on"
            )
        )
        background = [asyncio.create_task(run_housekeeping(res, stop))]
        if settings.events_backend is EventsBackend.rabbitmq:
            from healthplatform.events.rabbit import RabbitPublisher, Topology
            from healthplatform.events.relay import OutboxRelay

            publisher = RabbitPublisher(
                settings.rabbitmq_url.get_secret_value(), Topology.from_settings(settings)
            )
            background.append(asyncio.create_task(OutboxRelay(res.sessions, publisher).run(stop)))
        console.print(
            f"[green]Health platform running at[/green] http://{host}:{port}  "
            f"(data in {data_dir}; Ctrl-C stops)"
        )
        try:
            await server.serve()
        finally:
            stop.set()
            await asyncio.gather(*background, return_exceptions=True)


@app.command()
def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Run the whole platform in one process on the embedded defaults (local development)."""
    settings = _settings()
    _logging(settings, "up")
    asyncio.run(_up_main(settings, host, port))


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
