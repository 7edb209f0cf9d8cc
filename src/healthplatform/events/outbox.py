"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.db.models import OutboxEvent, OutboxStatus, utcnow

UPLOAD_RECEIVED = "upload.received"
PERSON_REDERIVE = "person.rederive"  # place a person's records again, derive their days
ETL_TOPIC_PREFIXES = ("upload.", "person.")  # what the ETL worker consumes


def add_event(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Stage an event; it becomes visible only if the surrounding transaction commits.
    The current trace context travels in the headers so a trace follows the upload."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    event = OutboxEvent(topic=topic, payload=payload, headers=headers)
    session.add(event)
    return event


def outbox_row(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The same event as a row for a Core ``INSERT`` (the upload hot path)."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    now = utcnow()
    return {
        "topic": topic,
        "payload": payload,
        "headers": headers,
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "created_at": now,
        "available_at": now,
    }
