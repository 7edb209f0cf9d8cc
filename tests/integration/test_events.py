"""Outbox -> relay -> RabbitMQ quorum queue, and the database queue, on the real servers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import select, update

from healthplatform.db.engine import create_engine, create_sessionmaker, transaction
from healthplatform.db.models import OutboxEvent, OutboxStatus
from healthplatform.events.dbqueue import DatabaseQueue
from healthplatform.events.outbox import add_event
from healthplatform.events.rabbit import RabbitConsumer, RabbitPublisher, Topology
from healthplatform.events.relay import OutboxRelay
from healthplatform.settings import Settings
from tests.support.services import RABBIT_URL, drop_rabbit_topology

pytestmark = pytest.mark.integration


@pytest.fixture
def topology() -> Topology:
    name = f"hp-test-{uuid.uuid4().hex[:8]}"
    return Topology(exchange=name, queue=f"{name}.etl", delivery_limit=3)


@pytest.fixture
async def cleanup_rabbit(topology: Topology):  # type: ignore[no-untyped-def]
    yield
    await drop_rabbit_topology(topology.exchange, topology.queue)


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, production_settings: Settings, embedded_settings: Settings
):  # type: ignore[no-untyped-def]
    settings = production_settings if request.param == "postgres" else embedded_settings
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def stage(sessions, n: int, tag: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        events = [add_event(session, "upload.received", {"tag": tag, "n": i}) for i in range(n)]
    return [e.id for e in events]


async def drain(consumer: RabbitConsumer, n: int, timeout: float = 10.0) -> list:  # type: ignore[type-arg]
    got = []

    async def collect() -> None:
        async for delivery in consumer.deliveries():
            got.append(delivery)
            await delivery.ack()
            if len(got) == n:
                return

    await asyncio.wait_for(collect(), timeout)
    return got


async def test_relay_publishes_committed_events_in_order(
    sessions, topology, cleanup_rabbit
) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex
    ids = await stage(sessions, 25, tag)
    relay = OutboxRelay(sessions, RabbitPublisher(RABBIT_URL, topology), batch_size=10)
    consumer = RabbitConsumer(RABBIT_URL, topology)
    await consumer.start()
    published = 0
    while (n := await relay.publish_batch()) > 0:
        published += n
    mine = [d for d in await drain(consumer, published) if d.payload.get("tag") == tag]
    assert [d.payload["n"] for d in mine] == list(range(25))
    async with sessions() as session:
        statuses = set(
            (
                await session.execute(select(OutboxEvent.status).where(OutboxEvent.id.in_(ids)))
            ).scalars()
        )
    assert statuses == {OutboxStatus.published.value}
    await relay.publisher.close()
    await consumer.close()


async def test_rolled_back_transaction_publishes_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            add_event(session, "upload.received", {"tag": tag})
            await session.flush()
            raise RuntimeError("business change failed")
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent))).scalars().all()
    assert not [r for r in rows if r.payload.get("tag") == tag]


async def test_rabbit_retry_then_dead_letter_with_error(
    topology,
    cleanup_rabbit,  # type: ignore[no-untyped-def]
) -> None:
    publisher = RabbitPublisher(RABBIT_URL, topology)
    await publisher.start()
    await publisher.publish_many([("m-1", "upload.received", {"poison": True}, {})])
    consumer = RabbitConsumer(RABBIT_URL, topology)
    await consumer.start()
    attempts = []

    async def consume() -> None:
        async for delivery in consumer.deliveries():
            attempts.append(delivery.attempt)
            await delivery.retry("boom: cannot parse", 0.01)
            if len(attempts) == topology.delivery_limit:
                return

    await asyncio.wait_for(consume(), 15)
    assert attempts == [1, 2, 3]
    conn = await aio_pika.connect(RABBIT_URL)
    channel = await conn.channel()
    dlq = await channel.get_queue(topology.dead_letter_queue)
    message = None
    for _ in range(50):
        message = await dlq.get(fail=False)
        if message:
            break
        await asyncio.sleep(0.1)
    assert message is not None
    assert message.headers["x-error"] == "boom: cannot parse"
    await message.ack()
    main = await channel.declare_queue(topology.queue, passive=True)
    assert main.declaration_result.message_count == 0
    await conn.close()
    await consumer.close()
    await publisher.close()


async def test_queue_is_quorum_with_delivery_limit(topology, cleanup_rabbit) -> None:  # type: ignore[no-untyped-def]
    publisher = RabbitPublisher(RABBIT_URL, topology)
    await publisher.start()
    conn = await aio_pika.connect(RABBIT_URL)
    channel = await conn.channel()
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        # redeclaring as a classic queue must conflict: it exists as a quorum queue
        await channel.declare_queue(topology.queue, durable=True)
    await conn.close()
    await publisher.close()


async def test_database_queue_claims_acks_retries_and_dead_letters(sessions) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.status.in_(["pending", "processing"]))
            .values(status="done")
        )
    ids = await stage(sessions, 3, tag)
    queue = DatabaseQueue(sessions, delivery_limit=2, lease_seconds=60)
    first = await queue.claim()
    assert [int(d.message_id) for d in first] == ids
    assert await queue.claim() == []  # all leased
    await first[0].ack()
    await first[1].retry("transient", 0)
    await first[2].dead_letter("poison")
    again = await queue.claim()
    assert [(int(d.message_id), d.attempt) for d in again] == [(ids[1], 2)]
    await again[0].retry("transient again", 0)  # second attempt = limit -> dead
    async with sessions() as session:
        rows = {
            r.id: r
            for r in (
                await session.execute(select(OutboxEvent).where(OutboxEvent.id.in_(ids)))
            ).scalars()
        }
    assert rows[ids[0]].status == "done"
    assert (rows[ids[1]].status, rows[ids[1]].last_error) == ("dead", "transient again")
    assert (rows[ids[2]].status, rows[ids[2]].last_error) == ("dead", "poison")


async def test_database_queue_redelivers_after_a_crashed_consumer(sessions) -> None:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.status.in_(["pending", "processing"]))
            .values(status="done")
        )
    [event_id] = await stage(sessions, 1, uuid.uuid4().hex)
    queue = DatabaseQueue(sessions, delivery_limit=5, lease_seconds=60)
    [claimed] = await queue.claim()  # ...and the consumer dies without settling
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    [redelivered] = await queue.claim()
    assert redelivered.message_id == claimed.message_id
    assert redelivered.attempt == 2
    await redelivered.ack()


async def test_upload_writes_its_event_in_the_same_transaction(
    production_settings: Settings, samples: list[Path], keys
) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from healthplatform.apps.api import create_app

    app = create_app(production_settings)
    sub = f"user-{uuid.uuid4().hex}"
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await client.post(
                "/v1/upload",
                headers={"Authorization": f"Bearer {keys.mint(sub)}"},
                files={"file": (samples[0].name, samples[0].read_bytes())},
            )
        cid = response.json()["correlation_id"]
        async with app.state.resources.sessions() as session:
            events = (await session.execute(select(OutboxEvent))).scalars().all()
    mine = [e for e in events if e.payload.get("upload_id") == cid]
    assert len(mine) == 1
    assert mine[0].topic == "upload.received"
    assert mine[0].payload["object_key"] == response.json()["object_key"]
