"""Erasing everything the platform holds about a user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.models import AssistantAudit, OutboxEvent
from healthplatform.etl import repository as etl_repository
from healthplatform.me import erasure_log
from healthplatform.runtime import Resources
from healthplatform.storage.layout import person_prefixes
from healthplatform.uploads import repository as uploads_repository


@dataclass(frozen=True)
class Erased:
    uploads_deleted: int
    derived_rows_deleted: int
    objects_deleted: int
    events_deleted: int = 0


async def delete_outbox_events(conn: AsyncConnection, user: str) -> int:
    """Every outbox row about ``user`` (its uploads' ids, object keys and hashes), whatever
    its state: none is kept for the retention period (``outbox_retention_hours``)."""
    result = await conn.execute(
        delete(OutboxEvent).where(OutboxEvent.payload["user_id"].as_string() == user)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_user_data(res: Resources, user: str) -> Erased:
    async with erasure_log.open_log(res.settings, res.store) as log:
        await erasure_log.record(log, user)  # first: a restore of an older backup honours it
    async with res.engine.begin() as conn:
        await etl_repository.lock_user(conn, user)  # waits for in-flight processing
        derived = await etl_repository.delete_user(conn, user)
        audit = await conn.execute(delete(AssistantAudit).where(AssistantAudit.user_id == user))
        derived += int(getattr(audit, "rowcount", 0) or 0)  # the assistant's log goes too
        uploads = await uploads_repository.delete_of_user(conn, user)
        events = await delete_outbox_events(conn, user)
    objects = 0
    for prefix in person_prefixes(user):
        objects += await res.store.delete_prefix(prefix)
    return Erased(uploads, derived, objects, events)
