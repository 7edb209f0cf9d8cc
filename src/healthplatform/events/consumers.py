"""The consumer the settings name: RabbitMQ in production, the outbox table locally."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from healthplatform.events.delivery import EventConsumer
from healthplatform.settings import EventsBackend, Settings


def create_consumer(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> EventConsumer:
    """A consumer of the ETL's events, configured from ``settings``."""
    if settings.events_backend is EventsBackend.rabbitmq:
        from healthplatform.events.rabbit import RabbitConsumer, Topology

        return RabbitConsumer(
            settings.rabbitmq_url.get_secret_value(),
            Topology.from_settings(settings),
            prefetch=settings.etl_concurrency,
        )
    from healthplatform.events.dbqueue import DatabaseQueue

    return DatabaseQueue(
        sessions,
        delivery_limit=settings.rabbitmq_delivery_limit,
        lease_seconds=settings.etl_lease_seconds,
        poll_interval=settings.outbox_poll_interval_seconds,
    )
