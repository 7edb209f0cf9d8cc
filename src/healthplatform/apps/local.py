"""`healthplatform up`: the whole platform in one process (auth, API, ETL worker,
housekeeping, the web app) behind the one-origin gateway."""

from __future__ import annotations

import asyncio
import os
import socket

import uvicorn

from healthplatform.apps.api import create_app
from healthplatform.apps.process import every
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.cli import load_settings as load_auth_settings
from healthplatform.auth.maintenance import run_maintenance
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.console import configured
from healthplatform.core.revocation import MemoryRevocationList
from healthplatform.core.serving import HTTP_LIMITS
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.etl.worker import Worker
from healthplatform.events.relay import OutboxRelay
from healthplatform.gateway.local import LocalGateway
from healthplatform.localrun import announce_when_serving
from healthplatform.ops.housekeeping import run_housekeeping
from healthplatform.runtime import open_resources
from healthplatform.settings import EventsBackend, Settings


def local_settings(port: int) -> tuple[Settings, AuthSettings]:
    """Settings of the all-in-one run: one origin at http://localhost:<port> unless
    HP_PUBLIC_URL / HP_AUTH_ALLOWED_ORIGINS say otherwise (WebAuthn needs a host name, so
    the origin is localhost, not 127.0.0.1)."""
    settings = configured(Settings)
    auth_settings = load_auth_settings()
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


async def up_main(settings: Settings, auth_settings: AuthSettings, sock: socket.socket) -> None:
    """Migrate both databases, then serve on ``sock`` until the server stops."""
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
            asyncio.create_task(Worker.from_settings(settings, res).run(stop)),
            asyncio.create_task(every(3600, lambda: run_maintenance(auth_settings), stop)),
            asyncio.create_task(announce_when_serving(server, settings.public_url, data_dir)),
        ]
        if settings.events_backend is EventsBackend.rabbitmq:
            relay = OutboxRelay.from_settings(res.sessions, settings)
            background.append(asyncio.create_task(relay.run(stop)))
        try:
            await server.serve(sockets=[sock])
        finally:
            stop.set()
            background[-1].cancel()
            await asyncio.gather(*background, return_exceptions=True)
