"""The outbox relay: publishes committed events to RabbitMQ, oldest first.

An event is marked ``published`` only after the broker confirmed it, in the same transaction
that locked it (``FOR UPDATE SKIP LOCKED`` lets several relays run side by side). If the
broker is down the events wait in the table, the API keeps accepting uploads, and the relay
catches up when the broker is back. Delivery is at least once; consumers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from healthplatform.core import metrics
from healthplatform.db.models import OutboxEvent, OutboxStatus
from healthplatform.events.rabbit import RabbitPublisher, Topology
from healthplatform.settings import Settings

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: RabbitPublisher,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.2,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.wakeup = asyncio.Event()

    @classmethod
    def from_settings(
        cls, sessions: async_sessionmaker[AsyncSession], settings: Settings, **options: Any
    ) -> OutboxRelay:
        """A relay publishing to the RabbitMQ the settings name, with the settings' batch
        size and poll interval (``options`` override them)."""
        publisher = RabbitPublisher(
            settings.rabbitmq_url.get_secret_value(), Topology.from_settings(settings)
        )
        defaults = {
            "batch_size": settings.outbox_batch_size,
            "poll_interval": settings.outbox_poll_interval_seconds,
        }
        return cls(sessions, publisher, **(defaults | options))

    async def drain(self) -> int:
        """Publish everything pending now, then disconnect (scripts and tests)."""
        total = 0
        try:
            while published := await self.publish_batch():
                total += published
        finally:
            await self.publisher.close()
        return total

    async def publish_batch(self) -> int:
        """Publish up to one batch; returns how many events were published."""
        if not self.publisher.connected:
            await self.publisher.start()
        async with self.sessions() as session, session.begin():
            now = datetime.now(UTC)
            # columns, not ORM objects: nothing to track in the session per event
            rows = (
                await session.execute(
                    select(
                        OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.headers
                    )
                    .where(
                        OutboxEvent.status == OutboxStatus.pending.value,
                        OutboxEvent.available_at <= now,
                    )
                    .order_by(OutboxEvent.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self.publisher.publish_many(
                [(f"outbox-{e.id}", e.topic, e.payload, e.headers) for e in rows]
            )
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([e.id for e in rows]))
                .values(status=OutboxStatus.published.value, published_at=now)
                .execution_options(synchronize_session=False)
            )
        metrics.OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = self.poll_interval
        while not stop.is_set():
            try:
                published = await self.publish_batch()
                backoff = self.poll_interval
            except Exception as exc:
                metrics.OUTBOX_PUBLISH_FAILURES.inc()
                log.warning("outbox relay: publish failed, retrying", extra={"error": str(exc)})
                await self.publisher.close()
                published = 0
                backoff = min(backoff * 2, 10.0)
            if published < self.batch_size:
                await _wait_any(stop, self.wakeup, backoff)
                self.wakeup.clear()
        await self.publisher.close()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def outbox_stats(session: AsyncSession) -> tuple[int, float]:
    """(events waiting, age in seconds of the oldest waiting one)."""
    waiting = (OutboxStatus.pending.value, OutboxStatus.processing.value)
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.status.in_(waiting)
            )
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    return int(count), age


async def purge_finished(session: AsyncSession, retention_hours: int) -> int:
    """Delete delivered events older than the retention (dead ones are kept for operators)."""
    cutoff = datetime.now(UTC) - timedelta(hours=retention_hours)
    result = await session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.status.in_((OutboxStatus.published.value, OutboxStatus.done.value)),
            OutboxEvent.created_at < cutoff,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
