"""Periodic housekeeping: sweep orphaned objects, purge delivered outbox rows, export
outbox gauges, queue again uploads that are stuck or failed on a dependency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from healthplatform.core import metrics
from healthplatform.db.engine import transaction
from healthplatform.etl import person_jobs
from healthplatform.etl.retry import DEPENDENCY_MARK
from healthplatform.events.relay import outbox_stats, purge_finished
from healthplatform.runtime import Resources
from healthplatform.storage.layout import RAW_PREFIX
from healthplatform.uploads import repository as uploads

log = logging.getLogger(__name__)


async def sweep_orphans(res: Resources, grace_seconds: int) -> int:
    """Delete raw objects older than the grace period that no upload row references
    (left behind when the upload's transaction failed after the object was stored)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    candidates = [o.key async for o in res.store.list(f"{RAW_PREFIX}/") if o.last_modified < cutoff]
    deleted = 0
    for i in range(0, len(candidates), 500):
        batch = candidates[i : i + 500]
        async with res.engine.connect() as conn:
            referenced = await uploads.referenced(conn, batch)
        for key in batch:
            if key not in referenced:
                await res.store.delete(key)
                deleted += 1
    if deleted:
        metrics.ORPHANS_SWEPT.inc(deleted)
        log.info("swept orphaned objects", extra={"count": deleted})
    return deleted


async def requeue_stuck(res: Resources, after_seconds: float) -> int:
    """Publish a fresh event for uploads still queued/processing long after their last
    change: covers a broker that lost its messages (e.g. RabbitMQ without a disk) or a
    consumer that vanished mid-work. Processing is idempotent, so a spare event is harmless;
    ``updated_at`` is bumped so each upload is requeued at most once per period."""
    cutoff = datetime.now(UTC) - timedelta(seconds=after_seconds)
    async with res.engine.begin() as conn:
        stuck = await uploads.requeue_stale(conn, cutoff, 500)
    if stuck:
        metrics.UPLOADS_REQUEUED.inc(len(stuck))
        log.warning("requeued stuck uploads", extra={"count": len(stuck)})
    return len(stuck)


async def requeue_failed(res: Resources, after_seconds: float, max_age_hours: int) -> int:
    """Queue again uploads that failed only because a dependency stayed down longer than
    the ETL's retry budget (their error starts with :data:`DEPENDENCY_MARK`). Bounded:
    each is retried at most once per ``after_seconds``, up to 500 per run, and only while
    younger than ``max_age_hours`` (older ones are left for an operator)."""
    now = datetime.now(UTC)
    before, since = now - timedelta(seconds=after_seconds), now - timedelta(hours=max_age_hours)
    async with res.engine.begin() as conn:
        failed = await uploads.requeue_failed(conn, DEPENDENCY_MARK, before, since, 500)
    if failed:
        metrics.UPLOADS_REQUEUED.inc(len(failed))
        log.warning("requeued uploads that failed on a dependency", extra={"count": len(failed)})
    return len(failed)


async def housekeeping_once(res: Resources) -> None:
    settings = res.settings
    if await person_jobs.requeue_stale(res.engine, settings.requeue_stuck_after_seconds):
        log.warning("asked again for people's days to be derived")
    async with transaction(res.sessions) as session:
        await purge_finished(session, settings.outbox_retention_hours)
    async with res.sessions() as session:
        pending, age = await outbox_stats(session)
    metrics.OUTBOX_PENDING.set(pending)
    metrics.OUTBOX_OLDEST_PENDING_AGE.set(age)
    await sweep_orphans(res, settings.orphan_grace_seconds)
    await requeue_stuck(res, settings.requeue_stuck_after_seconds)
    await requeue_failed(
        res, settings.requeue_failed_after_seconds, settings.requeue_failed_max_age_hours
    )


async def run_housekeeping(
    res: Resources, stop: asyncio.Event, interval: float | None = None
) -> None:
    """Housekeeping every ``interval`` seconds (default: ``housekeeping_interval_seconds``)."""
    every = res.settings.housekeeping_interval_seconds if interval is None else interval
    while not stop.is_set():
        try:
            await housekeeping_once(res)
        except Exception as exc:
            log.warning("housekeeping failed", extra={"error": str(exc)[:500]})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
