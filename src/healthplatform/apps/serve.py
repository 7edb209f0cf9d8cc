"""The production services of ``healthplatform serve``: the uvicorn factories of the API
and the MCP server, and the main loops of the ETL worker and the relay."""

from __future__ import annotations

import asyncio

from prometheus_client import start_http_server

from healthplatform.apps.process import configure, every, stop_on_signals
from healthplatform.settings import EventsBackend, Settings


def api_factory() -> object:
    """Uvicorn factory of `serve api` (one app per worker process)."""
    from healthplatform.apps.api import create_app
    from healthplatform.core.gc_tuning import tune_for_service

    settings = Settings()
    configure(settings, "api")
    app = create_app(settings)
    tune_for_service()
    return app


def mcp_factory() -> object:
    """Uvicorn factory of `serve mcp`."""
    from healthplatform.assistant.app import create_mcp_app

    settings = Settings()
    configure(settings, "mcp")
    return create_mcp_app(settings)


async def etl_main(settings: Settings, metrics_port: int) -> None:
    """`serve etl`: the worker until SIGTERM."""
    from healthplatform.core.gc_tuning import tune_for_service
    from healthplatform.etl.worker import Worker
    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = stop_on_signals()
    async with open_resources(settings, "etl") as res:
        worker = Worker.from_settings(settings, res)
        tune_for_service()
        await worker.run(stop)


async def relay_main(settings: Settings, metrics_port: int) -> None:
    """`serve relay`: housekeeping, the backup status gauges and (with RabbitMQ) the outbox
    relay, until SIGTERM."""
    from healthplatform.events.relay import OutboxRelay
    from healthplatform.ops.backups.settings import BackupSettings
    from healthplatform.ops.backups.status import export_status_metrics
    from healthplatform.ops.backups.store import create_backup_store
    from healthplatform.ops.housekeeping import run_housekeeping
    from healthplatform.runtime import open_resources

    start_http_server(metrics_port)
    stop = stop_on_signals()
    backup_settings = BackupSettings()
    backups = create_backup_store(settings, backup_settings)
    await backups.start()
    async with open_resources(settings, "relay") as res:
        tasks = [
            asyncio.create_task(run_housekeeping(res, stop)),
            # CronJobs write backups/status.json; the relay turns it into hp_backup_* gauges
            asyncio.create_task(
                every(
                    300,
                    lambda: export_status_metrics(backups, backup_settings.prefix),
                    stop,
                    at_start=True,
                )
            ),
        ]
        if settings.events_backend is EventsBackend.rabbitmq:
            relay = OutboxRelay.from_settings(res.sessions, settings)
            tasks.append(asyncio.create_task(relay.run(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            await backups.close()
