"""The outbox table as a queue (local runs): claim with a lease, settle by status.

A claimed event whose lease ran out (its consumer died) is claimed again; after the
delivery limit it is parked as ``dead`` with its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from healthplatform.db.models import OutboxEvent, OutboxStatus
from healthplatform.events.delivery import Delivery
from healthplatform.events.outbox import ETL_TOPIC_PREFIXES

log = logging.getLogger(__name__)


class DatabaseQueue:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        topic_prefixes: tuple[str, ...] = ETL_TOPIC_PREFIXES,
        delivery_limit: int = 5,
        lease_seconds: float = 300.0,
        poll_interval: float = 0.2,
        batch_size: int = 8,
    ) -> None:
        self.sessions = sessions
        self.topic_prefixes = topic_prefixes
        self.delivery_limit = delivery_limit
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._closed = asyncio.Event()
        self._unsettled: dict[str, Delivery] = {}

    async def start(self) -> None:
        self._closed.clear()

    async def close(self) -> None:
        """Stop, and give back events claimed but never settled (no lease wait)."""
        self._closed.set()
        for delivery in list(self._unsettled.values()):
            await self._settle(
                delivery, status=OutboxStatus.pending.value, attempts=OutboxEvent.attempts - 1
            )

    async def claim(self) -> list[Delivery]:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            ready = or_(
                and_(
                    OutboxEvent.status == OutboxStatus.pending.value,
                    OutboxEvent.available_at <= now,
                ),
                and_(
                    OutboxEvent.status == OutboxStatus.processing.value,
                    OutboxEvent.locked_until < now,
                ),
            )
            ids = (
                (
                    await session.execute(
                        select(OutboxEvent.id)
                        .where(
                            ready,
                            or_(*(OutboxEvent.topic.startswith(p) for p in self.topic_prefixes)),
                        )
                        .order_by(OutboxEvent.id)
                        .limit(self.batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            rows = (
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(ids), ready)
                    .values(
                        status=OutboxStatus.processing.value,
                        attempts=OutboxEvent.attempts + 1,
                        locked_until=now + self.lease,
                    )
                    .returning(
                        OutboxEvent.id,
                        OutboxEvent.topic,
                        OutboxEvent.payload,
                        OutboxEvent.headers,
                        OutboxEvent.attempts,
                    )
                )
            ).all()
        deliveries = []
        for row in sorted(rows, key=lambda r: r.id):
            delivery = Delivery(
                str(row.id), row.topic, row.payload, row.headers or {}, row.attempts, self
            )
            if row.attempts > self.delivery_limit:
                await self.dead_letter(delivery, "delivery limit exceeded (consumer crashed?)")
                continue
            deliveries.append(delivery)
            self._unsettled[delivery.message_id] = delivery
        return deliveries

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Claimed events, until closed. A database that cannot be reached is waited out
        (backoff up to 10 s), never the end of the iteration."""
        pause = self.poll_interval
        while not self._closed.is_set():
            try:
                batch = await self.claim()
                pause = self.poll_interval
            except Exception as exc:
                log.warning("database queue: claim failed, waiting", extra={"error": str(exc)})
                batch, pause = [], min(10.0, pause * 2)
            if not batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), pause)
                continue
            for delivery in batch:
                yield delivery

    async def _settle(self, delivery: Delivery, **values: object) -> None:
        self._unsettled.pop(delivery.message_id, None)
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == int(delivery.message_id))
                .values(locked_until=None, **values)
            )

    async def ack(self, delivery: Delivery) -> None:
        await self._settle(delivery, status=OutboxStatus.done.value)

    async def retry(
        self,
        delivery: Delivery,
        error: str,
        delay_seconds: float,
        *,
        headers: dict[str, Any] | None = None,
        counted: bool = True,
    ) -> None:
        if counted and delivery.attempt >= self.delivery_limit:
            await self.dead_letter(delivery, error)
            return
        values: dict[str, Any] = {}
        if headers:
            values["headers"] = {**delivery.headers, **headers}
        if not counted:
            values["attempts"] = OutboxEvent.attempts - 1
        await self._settle(
            delivery,
            status=OutboxStatus.pending.value,
            last_error=error[:2000],
            available_at=datetime.now(UTC) + timedelta(seconds=delay_seconds),
            **values,
        )

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        await self._settle(delivery, status=OutboxStatus.dead.value, last_error=error[:2000])
