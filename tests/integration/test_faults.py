"""Dependencies going down and coming back, with real servers behind a cuttable proxy."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from healthplatform.apps.api import create_app
from healthplatform.core.identity import user_key
from healthplatform.db.models import OutboxEvent, Upload
from healthplatform.events.rabbit import RabbitConsumer, RabbitPublisher, Topology
from healthplatform.events.relay import OutboxRelay
from healthplatform.settings import Settings
from tests.support.proxy import FlakyProxy, via_proxy
from tests.support.services import RABBIT_URL, KeySet, drop_rabbit_topology

pytestmark = pytest.mark.integration


async def upload(client: httpx.AsyncClient, keys: KeySet, sub: str, path: Path) -> httpx.Response:
    return await client.post(
        "/v1/upload",
        headers={"Authorization": f"Bearer {keys.mint(sub)}"},
        files={"file": (path.name, path.read_bytes())},
    )


async def test_rabbitmq_down_uploads_accepted_and_delivered_once_back(
    production_settings: Settings, keys: KeySet, samples: list[Path]
) -> None:
    proxy = FlakyProxy(5672)  # broker "down": nothing listens on the proxy port yet
    name = f"hp-test-{uuid.uuid4().hex[:8]}"
    topology = Topology(name, f"{name}.etl", 5)
    consumer = RabbitConsumer(RABBIT_URL, topology)
    await consumer.start()  # declares the queue on the real broker, directly
    app = create_app(production_settings)
    sub = f"user-{uuid.uuid4().hex}"
    async with app.router.lifespan_context(app):
        res = app.state.resources
        relay = OutboxRelay(
            res.sessions,
            RabbitPublisher(via_proxy(RABBIT_URL, proxy), topology),
            poll_interval=0.05,
        )
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            accepted = [await upload(client, keys, sub, p) for p in samples[:5]]
        assert [r.status_code for r in accepted] == [202] * 5
        await asyncio.sleep(0.5)  # the relay keeps failing meanwhile
        ids = {r.json()["correlation_id"] for r in accepted}
        async with res.sessions() as session:
            pending = (
                (await session.execute(select(OutboxEvent).where(OutboxEvent.status == "pending")))
                .scalars()
                .all()
            )
        assert ids <= {e.payload["upload_id"] for e in pending}

        await proxy.up()  # the broker is back
        received: list[str] = []

        async def collect() -> None:
            async for delivery in consumer.deliveries():
                if delivery.payload.get("upload_id") in ids:
                    received.append(delivery.payload["upload_id"])
                await delivery.ack()
                if set(received) == ids:
                    return

        await asyncio.wait_for(collect(), 30)
        await asyncio.sleep(0.5)
        stop.set()
        await relay_task
        assert sorted(received) == sorted(ids)  # each exactly once
    await consumer.close()
    await proxy.down()
    await drop_rabbit_topology(topology.exchange, topology.queue)


async def test_database_down_answers_503_quickly_and_recovers(
    production_settings: Settings, keys: KeySet, samples: list[Path]
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
    sub = f"user-{uuid.uuid4().hex}"
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            headers = {"Authorization": f"Bearer {keys.mint(sub)}"}
            assert (await client.get("/v1/upload/history", headers=headers)).status_code == 200
            await proxy.down()
            for request in (
                lambda: client.get("/v1/upload/history", headers=headers),
                lambda: upload(client, keys, sub, samples[1]),
                lambda: client.get("/health/ready"),
            ):
                started = time.monotonic()
                response = await request()
                assert response.status_code == 503, response.text
                assert time.monotonic() - started < 5
            await proxy.up()
            recovered = await upload(client, keys, sub, samples[1])
            assert recovered.status_code == 202
            assert (await client.get("/health/ready")).status_code == 200
    await proxy.down()


async def test_object_store_down_answers_503_and_writes_no_row(
    production_settings: Settings, keys: KeySet, samples: list[Path]
) -> None:
    endpoint = urlsplit(production_settings.s3_endpoint_url)
    proxy = FlakyProxy(int(endpoint.port or 80))
    settings = production_settings.model_copy(
        update={
            "s3_endpoint_url": via_proxy(production_settings.s3_endpoint_url, proxy),
            "s3_timeout_seconds": 1.0,
        }
    )
    app = create_app(settings)
    sub = f"user-{uuid.uuid4().hex}"
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await upload(client, keys, sub, samples[2])
            assert response.status_code == 503
            assert "object store" in response.json()["detail"]
            async with app.state.resources.sessions() as session:
                rows = (
                    await session.execute(
                        select(func.count()).where(Upload.user_id == user_key(sub))
                    )
                ).scalar_one()
            assert rows == 0
            assert (await client.get("/health/ready")).status_code == 503
            await proxy.up()
            assert (await upload(client, keys, sub, samples[2])).status_code == 202
    await proxy.down()
