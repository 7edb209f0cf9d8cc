"""After a PostgreSQL restart the pool must not hand out dead connections.

A restart is reproduced on the real server without stopping it: every backend of the
test database is terminated (``pg_terminate_backend``), exactly what a restart or a
failover does to the connections a pool holds, while the server stays healthy.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from healthplatform.apps.api import create_app
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.settings import Settings
from tests.support.proxy import FlakyProxy, via_proxy
from tests.support.services import PG_ADMIN_DSN, KeySet

pytestmark = pytest.mark.integration


async def terminate_backends(database: str) -> int:
    """Kill every connection to ``database`` (the restart as the pool sees it) and wait
    until the server has closed them all."""
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        # pg_terminate_backend only signals: the restart is over when they are gone
        for _ in range(100):
            left = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND pid <> pg_backend_pid()",
                database,
            )
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    return int(killed)


async def test_no_503_on_stale_pooled_connections_after_a_restart(
    production_settings: Settings, keys: KeySet
) -> None:
    settings = production_settings.model_copy(update={"database_pool_size": 4})
    database = settings.database_url.rsplit("/", 1)[1]
    user = f"restart-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {keys.mint(user)}"}
    app = create_app(settings)
    answers: Counter[int] = Counter()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            counter = 0

            async def upload() -> int:
                nonlocal counter
                counter += 1
                data = synthetic_file("StepsRecord", 5, seed=counter)
                response = await client.post(
                    "/v1/upload", headers=headers, files={"file": ("StepsRecord_1.avro", data)}
                )
                return response.status_code

            async def history() -> int:
                response = await client.get("/v1/upload/history", headers=headers)
                return response.status_code

            for restart in range(3):
                # every pooled connection in use at once (pool 4 + overflow 4)
                warm = await asyncio.gather(*(upload() for _ in range(8)), history())
                assert set(warm) == {202, 200}
                assert await terminate_backends(database) >= 4
                await asyncio.sleep(0.3 * restart)  # at once (server healthy), then later
                for i in range(40):  # one at a time: each gets the next pooled connection
                    answers[await (upload() if i % 2 else history())] += 1
                answers.update(await asyncio.gather(*(upload() for _ in range(8))))
    assert answers[503] == 0, answers
    assert answers[202] + answers[200] == 3 * 48


async def test_every_503_is_logged_with_its_cause(
    production_settings: Settings,
    keys: KeySet,
    samples: list[Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = FlakyProxy(5432)
    await proxy.up()
    settings = production_settings.model_copy(
        update={
            "database_url": via_proxy(production_settings.database_url, proxy),
            "database_connect_timeout_seconds": 1.0,
        }
    )
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {keys.mint(f'log-{uuid.uuid4().hex}')}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/v1/upload/history", headers=headers)).status_code == 200
            await proxy.down()
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="healthplatform"):
                answers = [
                    (await client.get("/health/ready")).status_code,
                    (await client.get("/v1/upload/history", headers=headers)).status_code,
                    (
                        await client.post(
                            "/v1/upload",
                            headers=headers,
                            files={"file": (samples[0].name, samples[0].read_bytes())},
                        )
                    ).status_code,
                ]
            await proxy.up()
    await proxy.down()
    assert answers == [503, 503, 503]
    ours = [r for r in caplog.records if r.name.startswith("healthplatform")]
    logged = [r for r in ours if r.getMessage().startswith("answered 503")]
    assert len(logged) == 2, [r.getMessage() for r in ours]
    for record in logged:
        assert getattr(record, "cause", None), record.__dict__
        assert getattr(record, "path", "").startswith("/v1/upload")
    readiness = [r for r in ours if r.getMessage().startswith("readiness: dependency down")]
    assert readiness and all(getattr(r, "cause", None) for r in readiness)
