"""`healthplatform`: start services, run migrations, run the whole platform locally.

Every command reads its configuration from ``HP_*`` environment variables
(see `healthplatform settings`); options override the listen address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthplatform.settings import EventsBackend, Settings, reference_table

if TYPE_CHECKING:
    from healthplatform.etl.worker import Worker
    from healthplatform.events.delivery import EventConsumer
    from healthplatform.runtime import Resources

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


def create_worker(settings: Settings, res: Resources) -> Worker:
    from healthplatform.etl.worker import Worker

    return Worker(
        res,
        create_consumer(settings, res),
        concurrency=settings.etl_concurrency,
        shutdown_grace=settings.etl_shutdown_grace_seconds,
        backoff_base=settings.etl_backoff_base_seconds,
        backoff_max=settings.etl_backoff_max_seconds,
    )


async def _etl_main(settings: Settings, metrics_port: int) -> None:
    from prometheus_client import start_http_server

    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = _stop_on_signals()
    async with open_resources(settings, "etl") as res:
        await create_worker(settings, res).run(stop)


@serve.command("etl")
def serve_etl(metrics_port: PortOpt = 9103) -> None:
    """The ETL narrative engine: consumes upload events, writes metrics and narratives."""
    settings = _settings()
    _logging(settings, "etl")
    asyncio.run(_etl_main(settings, metrics_port))


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
        background = [
            asyncio.create_task(run_housekeeping(res, stop)),
            asyncio.create_task(create_worker(settings, res).run(stop)),
        ]
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
