"""Processing one upload event, with idempotent effects.

1. ``queued -> processing`` (own short transaction, visible to the client).
2. Fetch and decode the object in a thread (malformed records counted, not fatal).
3. One transaction holding the user's lock: upsert observations (newest version of each
   Health Connect record wins), recompute every local day the file touches from *all* the
   user's observations, write metrics, the daily journals, the upload narrative and the
   training examples, and set the upload ``completed``. A crash anywhere rolls it all back;
   a redelivered event for a completed upload changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import update

from healthplatform.core import metrics as prom
from healthplatform.db.models import Upload, UploadStatus
from healthplatform.etl import repository as repo
from healthplatform.etl.decode import Decoded, decode_file
from healthplatform.etl.metrics import DEFINITIONS_VERSION, SUMMARY_KEYS, compute_day
from healthplatform.etl.metrics.activity import EXERCISE
from healthplatform.etl.narratives import Narrative, daily_journal, upload_narrative
from healthplatform.etl.observations import Observation
from healthplatform.etl.training import month_prefix, training_day, training_example
from healthplatform.runtime import Resources
from healthplatform.storage.base import ObjectNotFound
from healthplatform.uploads import service as uploads

log = logging.getLogger(__name__)
HISTORY_DAYS = 14
DAY_MS = 86_400_000
T = TypeVar("T")


# CPU work (decoding, metrics) runs off the event loop on one thread: more threads would
# only take turns on the GIL, and each switch costs CPU.
_CPU = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-cpu")


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_CPU, fn, *args)


class PermanentError(Exception):
    """Retrying cannot help: the upload is marked failed (or quarantined)."""

    def __init__(self, message: str, *, quarantine: bool = False) -> None:
        super().__init__(message)
        self.quarantine = quarantine


@dataclass(frozen=True)
class Outcome:
    upload_id: uuid.UUID
    status: str  # completed | skipped (already done or gone)
    days: int = 0
    records: int = 0


DOMAIN_OF = {record_type: domain for record_type, (domain, _) in SUMMARY_KEYS.items()}
# heart excludes exercise from elevated-rate episodes: exercise uploads touch heart too
DEPENDS_ON = {"heart": {EXERCISE}}


def affected_domains(record_type: str) -> set[str]:
    domains = {DOMAIN_OF[record_type]}
    domains |= {d for d, deps in DEPENDS_ON.items() if record_type in deps}
    return domains


def inputs_of(domains: set[str]) -> set[str]:
    """Record types whose observations the given domains are computed from."""
    types = {t for t, d in DOMAIN_OF.items() if d in domains}
    return types.union(*(DEPENDS_ON.get(d, set()) for d in domains))


def _days_of(observations: list[Observation]) -> list[date]:
    return sorted({d for o in observations for d in repo.observation_days(o)})


@dataclass(frozen=True)
class DayResult:
    metrics: dict[str, Any]  # the recomputed domains only
    observations: dict[str, list[Observation]]  # per recomputed domain, touching the day


def _compute(
    observations: list[Observation], days: list[date], domains: set[str], height_m: float | None
) -> dict[date, DayResult]:
    """Recompute ``domains`` of each day from the observations touching it or a neighbour
    (records crossing midnight and sleep ending on the day are assigned by compute_day).

    The observations are bucketed by the days they touch once, so each day only looks at
    its own records (and exercise sessions touching a neighbouring day)."""
    wanted = set(days)
    on_day: dict[date, list[Observation]] = {day: [] for day in days}
    exercise_near: dict[date, list[Observation]] = {day: [] for day in days}
    one_day = timedelta(days=1)
    for o in observations:
        touched = repo.observation_days(o)
        for day in touched:
            if day in wanted:
                on_day[day].append(o)
        if o.record_type == EXERCISE:
            # exercise from the neighbouring days too, for the recovery window after a
            # late session
            near = {d + delta for d in touched for delta in (-one_day, one_day)}
            for day in (near - set(touched)) & wanted:
                exercise_near[day].append(o)
    result = {}
    for day in days:
        candidates = on_day[day] + exercise_near[day]
        metrics = compute_day(candidates, day, height_m=height_m, domains=domains)
        by_domain: dict[str, list[Observation]] = {d: [] for d in domains}
        for o in on_day[day]:
            found = by_domain.get(DOMAIN_OF[o.record_type])
            if found is not None:
                found.append(o)
        result[day] = DayResult({d: m for d, m in metrics.items() if d in domains}, by_domain)
    return result


async def process_upload(res: Resources, upload_id: uuid.UUID) -> Outcome:
    upload = await uploads.claim_for_processing(res, upload_id)
    if upload is None:
        return Outcome(upload_id, "skipped")  # erased meanwhile, or a redelivery of a done one
    try:
        data = await res.store.get(upload.object_key)
    except ObjectNotFound as exc:
        raise PermanentError("the stored file is missing") from exc
    try:
        decoded = await _off_loop(decode_file, data, upload.record_type)
    except Exception as exc:  # the file passed validation at upload: storage corruption
        raise PermanentError(f"stored file cannot be decoded: {exc}", quarantine=True) from exc
    prom.ETL_MALFORMED_RECORDS.inc(decoded.malformed)
    if not decoded.observations:
        raise PermanentError(f"no usable records ({decoded.malformed} malformed)", quarantine=True)
    return await _apply(res, upload, decoded)


async def _apply(res: Resources, upload: uploads.Claimed, decoded: Decoded) -> Outcome:
    user = upload.user_id
    days = _days_of(decoded.observations)
    domains = affected_domains(upload.record_type)
    async with res.engine.begin() as conn:
        # first statement writes: on SQLite this takes the write lock up front
        still_open = await conn.execute(
            update(Upload)
            .where(Upload.id == upload.id, Upload.status == UploadStatus.processing.value)
            .values(updated_at=datetime.now(UTC))
        )
        if not getattr(still_open, "rowcount", 1):
            return Outcome(upload.id, "skipped")
        await repo.lock_user(conn, user)
        await repo.upsert_observations(conn, user, upload.id, decoded.observations)
        # only the domains this record type feeds are recomputed; the others are kept
        stored_rows, sources = await repo.load_window(
            conn, user, days[0], days[-1], inputs_of(domains), exclude_upload=upload.id
        )
        # this file's records are in memory; a stored row not replaced by them is current
        current = {o.hc_id: o for o in decoded.observations}
        for o in decoded.observations:
            sources.setdefault(o.hc_id, str(upload.id))
        current.update({o.hc_id: o for o in stored_rows})
        window = list(current.values())
        height = (
            await repo.latest_height_m(conn, user, decoded.observations[-1].end_ms + 2 * DAY_MS)
            if "body" in domains
            else None
        )
        computed = await _off_loop(_compute, window, days, domains, height)
        # every stored day whose journal may read or be read: [first - 14, last + 14]
        around = await repo.load_days_around(conn, user, days[0], days[-1], HISTORY_DAYS)
        stored = {row.local_date: row for row in around if row.local_date in computed}
        writer = _DayWriter(res, user, [(row.local_date, row.metrics) for row in around])
        for day in days:
            row = stored.get(day)
            result = computed[day]
            metrics = {k: v for k, v in (row.metrics if row else {}).items() if k not in domains}
            metrics.update(result.metrics)
            provenance = {
                k: v for k, v in (row.provenance if row else {}).items() if k not in domains
            }
            for domain, observations in result.observations.items():
                if observations:
                    provenance[domain] = {
                        "uploads": sorted({sources[o.hc_id] for o in observations}),
                        "records": sorted(o.hc_id for o in observations),
                    }
            await writer.write(day, dict(sorted(metrics.items())), provenance, row)
        # Journals read the previous days: later stored days whose history just changed are
        # rewritten too, so the result does not depend on the order uploads arrive in.
        for row in around:
            if row.local_date > days[0] and row.local_date not in computed:
                await writer.write(row.local_date, row.metrics, row.provenance, row)
        await writer.prune()
        day_rows, narrative_rows = writer.day_rows, writer.narrative_rows
        summary = upload_narrative(upload.record_type, [(d, computed[d].metrics) for d in days])
        narrative_rows.append(
            _narrative(
                f"upload:{upload.id}", user, "upload", None, upload.id, sorted(domains), summary
            )
        )
        await repo.save_days(conn, day_rows)
        await repo.save_narratives(conn, narrative_rows)
        report = {**decoded.report(), "days": [d.isoformat() for d in days]}
        await conn.execute(
            update(Upload)
            .where(Upload.id == upload.id)
            .values(
                status=UploadStatus.completed.value,
                finished_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
                narrative_preview=summary.preview(280),
                report=report,
                error=None,
            )
        )
    return Outcome(upload.id, "completed", len(days), len(decoded.observations))


class _DayWriter:
    """Writes one day's journal, training example and rows, keeping the history the next
    days' journals read."""

    def __init__(self, res: Resources, user: str, past: list[tuple[date, Any]]) -> None:
        self.res = res
        self.user = user
        self.past = past
        self.day_rows: list[dict[str, Any]] = []
        self.narrative_rows: list[dict[str, Any]] = []
        self.training_keys: dict[date, str] = {}

    async def prune(self) -> None:
        """Delete every other version of the written days' examples, including one left by
        an attempt killed before its commit (the user lock makes this the only writer).
        One listing per month instead of one per day."""
        for month in sorted({month_prefix(self.user, day) for day in self.training_keys}):
            async for stale in self.res.store.list(month):
                day = training_day(stale.key)
                if day in self.training_keys and stale.key != self.training_keys[day]:
                    await self.res.store.delete(stale.key)

    async def write(
        self, day: date, metrics: dict[str, Any], provenance: dict[str, Any], row: Any
    ) -> None:
        journal = daily_journal(day, metrics, [p for p in self.past if p[0] < day])
        key, body = training_example(
            self.user,
            day,
            metrics,
            journal,
            upload_ids=sorted({u for p in provenance.values() for u in p["uploads"]}),
            record_ids=sorted({r for p in provenance.values() for r in p["records"]}),
            version=DEFINITIONS_VERSION,
        )
        if (row.training_key if row else None) != key:
            await self.res.store.put(key, body, "application/json")
        self.training_keys[day] = key
        self.day_rows.append(
            repo.day_row(self.user, day, metrics, DEFINITIONS_VERSION, provenance, key)
        )
        self.narrative_rows.append(
            _narrative(
                f"daily:{self.user}:{day.isoformat()}",
                self.user,
                "daily",
                day,
                None,
                sorted(metrics),
                journal,
            )
        )
        self.past = sorted(
            [*(p for p in self.past if p[0] != day), (day, metrics)], key=lambda p: p[0]
        )


def _narrative(
    key: str,
    user: str,
    kind: str,
    day: date | None,
    upload_id: uuid.UUID | None,
    domains: list[str],
    narrative: Narrative,
) -> dict[str, Any]:
    return repo.narrative_row(
        key=key,
        user_id=user,
        kind=kind,
        local_date=day,
        upload_id=upload_id,
        domains=domains,
        version=DEFINITIONS_VERSION,
        layers=(narrative.statistical, narrative.structural, narrative.semantic),
    )
