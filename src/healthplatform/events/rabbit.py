"""RabbitMQ topology, publisher (with confirms) and consumer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue

from healthplatform.events.delivery import Delivery
from healthplatform.events.outbox import ETL_TOPIC_PREFIXES
from healthplatform.settings import Settings


@dataclass(frozen=True)
class Topology:
    exchange: str
    queue: str
    delivery_limit: int

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls(
            settings.rabbitmq_exchange, settings.rabbitmq_queue, settings.rabbitmq_delivery_limit
        )


async def declare(
    channel: AbstractChannel, topology: Topology
) -> tuple[AbstractExchange, AbstractExchange, AbstractQueue]:
    """Durable topic exchange, quorum queue with a delivery limit and a dead-letter exchange
    feeding a quorum dead-letter queue. Idempotent."""
    exchange = await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dlx = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dlq = await channel.declare_queue(
        topology.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dlx)
    queue = await channel.declare_queue(
        topology.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": topology.delivery_limit,
            "x-dead-letter-exchange": topology.dead_letter_exchange,
        },
    )
    for prefix in ETL_TOPIC_PREFIXES:
        await queue.bind(exchange, routing_key=f"{prefix}#")
    return exchange, dlx, queue


class RabbitPublisher:
    """Publishes outbox events; each publish waits for the broker's confirm."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.url = url
        self.topology = topology
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=5)
        self._connection = connection
        channel = await connection.channel(publisher_confirms=True)
        self._exchange, _, _ = await declare(channel, self.topology)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._exchange = None

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def publish_many(
        self, events: list[tuple[str, str, dict[str, Any], dict[str, Any]]]
    ) -> None:
        """Publish (message_id, topic, payload, headers) tuples; raises unless all confirmed."""
        if self._exchange is None:
            raise ConnectionError("publisher not connected")
        exchange = self._exchange
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        json.dumps(payload, separators=(",", ":")).encode(),
                        message_id=message_id,
                        type=topic,
                        headers=headers,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=topic,
                    timeout=10,
                )
                for message_id, topic, payload, headers in events
            )
        )


ATTEMPTS = "x-hp-attempts"  # counted attempts before this copy of a retried message


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


class RabbitConsumer:
    """Consumes the quorum queue with a prefetch window; settles through :class:`Delivery`."""

    def __init__(self, url: str, topology: Topology, prefetch: int = 8) -> None:
        self.url = url
        self.topology = topology
        self.prefetch = prefetch
        self.delivery_limit = topology.delivery_limit
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None
        self._dlx: AbstractExchange | None = None
        self._channel: AbstractChannel | None = None
        self._inflight: dict[str, AbstractIncomingMessage] = {}

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.url, timeout=5)
        channel = await self._connection.channel(publisher_confirms=True)
        self._channel = channel
        await channel.set_qos(prefetch_count=self.prefetch)
        _, self._dlx, self._queue = await declare(channel, self.topology)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None

    async def deliveries(self) -> AsyncIterator[Delivery]:
        if self._queue is None:
            raise ConnectionError("consumer not started")
        async with self._queue.iterator() as messages:
            async for message in messages:
                headers = dict(message.headers or {})
                # quorum queues count redeliveries in x-delivery-count (absent on the
                # first); a retry is a fresh copy carrying the attempts before it
                redelivered = _count(headers.get("x-delivery-count"))
                attempt = _count(headers.get(ATTEMPTS)) + redelivered + 1
                try:
                    payload = json.loads(message.body)
                    if not isinstance(payload, dict):
                        raise ValueError("payload is not an object")
                except ValueError as exc:
                    await self._dead(message, f"undecodable message: {exc}")
                    continue
                key = message.message_id or str(message.delivery_tag)
                self._inflight[key] = message
                yield Delivery(
                    key, message.type or message.routing_key or "", payload, headers, attempt, self
                )

    def _pop(self, delivery: Delivery) -> AbstractIncomingMessage:
        return self._inflight.pop(delivery.message_id)

    async def ack(self, delivery: Delivery) -> None:
        await self._pop(delivery).ack()

    async def retry(
        self,
        delivery: Delivery,
        error: str,
        delay_seconds: float,
        *,
        headers: dict[str, Any] | None = None,
        counted: bool = True,
    ) -> None:
        """Wait, then publish a copy (with the attempts so far and ``headers``) to the back
        of the queue and ack the original. Not a nack: the queue's ``x-delivery-limit``
        then counts only deliveries that never settled (a consumer that crashed on the
        message), and a dependency retry (``counted=False``) never reaches it."""
        if counted and delivery.attempt >= self.delivery_limit:
            await self.dead_letter(delivery, error)
            return
        message = self._pop(delivery)
        await asyncio.sleep(delay_seconds)
        carried = {
            k: v for k, v in (message.headers or {}).items() if not k.startswith("x-delivery")
        }
        carried |= headers or {}
        carried[ATTEMPTS] = delivery.attempt if counted else delivery.attempt - 1
        carried["x-last-error"] = error[:1000]
        assert self._channel is not None
        await self._channel.default_exchange.publish(
            _copy(message, carried), routing_key=self.topology.queue
        )
        await message.ack()

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        await self._dead(self._pop(delivery), error)

    async def _dead(self, message: AbstractIncomingMessage, error: str) -> None:
        """Publish a copy with the error to the dead-letter exchange, then ack the original."""
        assert self._dlx is not None
        headers = dict(message.headers or {})
        headers["x-error"] = error[:1000]
        await self._dlx.publish(_copy(message, headers), routing_key=message.routing_key or "")
        await message.ack()


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """A persistent copy of ``message`` (body, id, type, content type) with ``headers``."""
    return aio_pika.Message(
        message.body,
        message_id=message.message_id,
        type=message.type,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
