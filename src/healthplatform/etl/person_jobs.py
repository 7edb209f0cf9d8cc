"""Asking the worker to derive a person's days again, and knowing when it has.

A request (a zone setting or a consent changed) writes a ``person.rederive`` event in the
caller's transaction and stamps ``person_jobs.requested_at``; the worker, when it has
placed the person's records again and derived their days, sets ``done_at`` to the request
it saw. The person's days are being recalculated while the two differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from healthplatform.db.models import OutboxEvent, PersonJob
from healthplatform.events.outbox import PERSON_REDERIVE, outbox_row


async def request(conn: AsyncConnection, user: str, *, all_days: bool) -> None:
    now = datetime.now(UTC)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(PersonJob).values(user_id=user, requested_at=now, done_at=None)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["user_id"], set_={"requested_at": now})
    )
    event = outbox_row(PERSON_REDERIVE, {"user_id": user, "all_days": all_days})
    await conn.execute(insert(OutboxEvent), [event])


async def seen(conn: AsyncConnection, user: str) -> datetime | None:
    """The latest request (read by the worker before it starts)."""
    found = await conn.execute(select(PersonJob.requested_at).where(PersonJob.user_id == user))
    return found.scalar_one_or_none()


async def done(conn: AsyncConnection, user: str, requested: datetime | None) -> None:
    if requested is not None:
        await conn.execute(
            update(PersonJob).where(PersonJob.user_id == user).values(done_at=requested)
        )


async def pending(conn: AsyncConnection, user: str) -> bool:
    row = (
        await conn.execute(
            select(PersonJob.requested_at, PersonJob.done_at).where(PersonJob.user_id == user)
        )
    ).first()
    return row is not None and (row.done_at is None or row.done_at < row.requested_at)


async def requeue_stale(engine: AsyncEngine, after_seconds: float) -> int:
    """Ask again for jobs still pending long after they were asked for (a broker that
    lost the event): a fresh event deriving every day of the person (a superset of any
    request). Returns how many."""
    cutoff = datetime.now(UTC) - timedelta(seconds=after_seconds)
    async with engine.begin() as conn:
        stale = (
            (
                await conn.execute(
                    select(PersonJob.user_id).where(
                        or_(
                            PersonJob.done_at.is_(None), PersonJob.done_at < PersonJob.requested_at
                        ),
                        PersonJob.requested_at < cutoff,
                    )
                )
            )
            .scalars()
            .all()
        )
        for user in stale:
            await request(conn, user, all_days=True)
    return len(stale)
