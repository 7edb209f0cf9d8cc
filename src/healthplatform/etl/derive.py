"""Deriving a person's days from their stored observations.

``derive(res, conn, user, days)`` recomputes every domain of every marked local day from
*all* the person's stored observations touching it (never a mix of an upload in memory and
stored rows: the database holds the one winning version of every record), writes the
day's metrics, clock, chart series, journal and training example, rewrites the journals of
the 14 days after it (their history changed) and deletes days left with no data. The
caller holds the person's lock and the transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.core import metrics as prom
from healthplatform.etl import observation_rows
from healthplatform.etl import repository as repo
from healthplatform.etl.metrics import DEFINITIONS_VERSION, SUMMARY_KEYS, compute_day
from healthplatform.etl.metrics.activity import EXERCISE
from healthplatform.etl.metrics.common import hhmm
from healthplatform.etl.metrics.series import day_series
from healthplatform.etl.narratives import Narrative, daily_journal
from healthplatform.etl.training import training_example
from healthplatform.healthconnect.observations import Observation, is_newer, local_day_bounds_ms
from healthplatform.runtime import Resources
from healthplatform.storage.layout import training_day, training_month_prefix
from healthplatform.verify.check import Report, check, facts

log = logging.getLogger(__name__)
HISTORY_DAYS = 14
CHUNK_DAYS = 31  # days loaded from the database at a time
T = TypeVar("T")
DOMAIN_OF = {record_type: domain for record_type, (domain, _) in SUMMARY_KEYS.items()}

# CPU work (decoding, metrics) runs off the event loop on one thread: more threads would
# only take turns on the GIL, and each switch costs CPU.
_CPU = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-cpu")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_CPU, fn, *args)


@dataclass(frozen=True)
class DayResult:
    metrics: dict[str, Any]
    context: dict[str, Any]  # the day's clock (``day_context``)
    observations: dict[str, list[Observation]]  # per domain, the records touching the day
    inputs: list[Observation]  # everything the day was computed from (for verification)
    height_m: float | None  # the height BMI falls back on
    series: dict[str, Any]  # the day view's charts, counted as the metrics count


def day_context(observations: Iterable[Observation], day: date) -> dict[str, Any]:
    """The day's clock: the zone offset most of its records are placed at (ties: the
    smaller), where their placements came from, and the local time of its last
    measurement (the latest record start or sample time inside the day)."""
    offsets: Counter[int] = Counter()
    sources: Counter[str] = Counter()
    last: tuple[int, int] | None = None
    for o in observations:
        offsets[o.offset_minutes] += 1
        sources[o.zone_source] += 1
        lo, hi = local_day_bounds_ms(day, o.offset_minutes)
        times = [o.start_ms, *(s["timeEpochMillis"] for s in sample_list(o))]
        inside = [t for t in times if lo <= t < hi]
        # the latest moment; at the same instant, the smaller offset
        if inside and (last is None or (max(inside), -o.offset_minutes) > (last[0], -last[1])):
            last = (max(inside), o.offset_minutes)
    offset = min(offsets.items(), key=lambda kv: (-kv[1], kv[0]))[0] if offsets else 0
    return {
        "offset_minutes": offset,
        "offsets": sorted(offsets),
        "placement": dict(sorted(sources.items())),
        "data_until": hhmm(last[0], last[1]) if last else None,
    }


def sample_list(o: Observation) -> list[dict[str, Any]]:
    """The record's timed samples (heart rate, speed, ...), if it has any."""
    samples = o.fields.get("samples")
    if not isinstance(samples, list):
        return []
    return [s for s in samples if isinstance(s, dict) and type(s.get("timeEpochMillis")) is int]


def newest(observations: Iterable[Observation]) -> list[Observation]:
    """One version of each record (type and id), ``is_newer`` deciding."""
    kept: dict[tuple[str, str], Observation] = {}
    for o in observations:
        old = kept.get((o.record_type, o.hc_id))
        if old is None or is_newer(o, old):
            kept[(o.record_type, o.hc_id)] = o
    return list(kept.values())


def compute_days(
    observations: list[Observation], days: Iterable[date], height_m: float | None
) -> dict[date, DayResult]:
    """Every domain of each day from the observations touching it (and exercise sessions
    touching a neighbouring day: the recovery window after a late session). The
    observations are bucketed by the days they touch once."""
    on_day: dict[date, list[Observation]] = {day: [] for day in days}
    exercise_near: dict[date, list[Observation]] = {day: [] for day in on_day}
    one_day = timedelta(days=1)
    for o in newest(observations):
        touched = observation_rows.observation_days(o)
        for day in touched:
            if day in on_day:
                on_day[day].append(o)
        if o.record_type == EXERCISE:
            near = {d + delta for d in touched for delta in (-one_day, one_day)}
            for day in near - set(touched):
                if day in exercise_near:
                    exercise_near[day].append(o)
    result = {}
    for day, own in on_day.items():
        inputs = own + exercise_near[day]
        metrics = compute_day(inputs, day, height_m=height_m)
        by_domain: dict[str, list[Observation]] = {}
        for o in own:
            by_domain.setdefault(DOMAIN_OF[o.record_type], []).append(o)
        for name, found in by_domain.items():
            if name in metrics:  # where the domain's records were placed, by rule
                placed = Counter(o.zone_source for o in found)
                metrics[name]["coverage"]["placement"] = dict(sorted(placed.items()))
        result[day] = DayResult(
            metrics, day_context(own, day), by_domain, inputs, height_m, day_series(inputs, day)
        )
    return result


@dataclass
class Derived:
    """What a derivation wrote: the days with data (their results) and the deleted days."""

    results: dict[date, DayResult] = field(default_factory=dict)
    facts: dict[date, dict[str, Any]] = field(default_factory=dict)  # the verifier's values
    deleted: list[date] = field(default_factory=list)
    changed: set[date] = field(default_factory=set)  # days whose metrics are not as stored


def _current(
    uploads: Sequence[tuple[Any, list[Observation]]],
    stored: list[Observation],
    sources: dict[tuple[str, str], str],
) -> list[Observation]:
    """The stored rows of other uploads, and the in-memory records they do not replace.
    Versions of one record in several of these uploads: the newest (``is_newer``), from
    the smallest upload id among those carrying it, as the database keeps them."""
    taken = {(o.record_type, o.hc_id) for o in stored}
    best: dict[tuple[str, str], tuple[Observation, str]] = {}
    for upload_id, mine in uploads:
        source = str(upload_id)
        for o in mine:
            key = (o.record_type, o.hc_id)
            if key in taken:
                continue
            kept = best.get(key)
            newer = kept is None or is_newer(o, kept[0])
            if newer or (kept is not None and not is_newer(kept[0], o) and source < kept[1]):
                best[key] = (o, source)
    for o, upload_id in best.values():
        sources[(o.record_type, o.hc_id)] = upload_id
    return stored + [o for o, _ in best.values()]


def _chunks(days: list[date]) -> list[list[date]]:
    """Sorted days cut into runs that span at most ``CHUNK_DAYS``."""
    out: list[list[date]] = []
    for day in days:
        if out and (day - out[-1][0]).days < CHUNK_DAYS:
            out[-1].append(day)
        else:
            out.append([day])
    return out


async def derive(
    res: Resources,
    conn: AsyncConnection,
    user: str,
    days: Iterable[date],
    uploads: Sequence[tuple[Any, list[Observation]]] = (),
) -> Derived:
    """Derive the marked days again, and the stored days up to 14 days after each (their
    journals read the marked days as history).

    ``uploads``: (id, observations) of uploads just stored: their rows are not read back
    (the in-memory versions are the stored ones wherever an upload's version won; a row
    another upload wrote for the same record is read and wins over the in-memory ones)."""
    derived = Derived()
    marked = set(days)
    if not marked:
        return derived
    later = await repo.stored_dates(conn, user, min(marked), max(marked) + timedelta(HISTORY_DAYS))
    training = await repo.training_consent(conn, user)
    marked |= {d for d in later if any(0 < (d - m).days <= HISTORY_DAYS for m in marked)}
    for chunk in _chunks(sorted(marked)):
        rows, sources = await observation_rows.load_window(
            conn, user, chunk[0], chunk[-1], DOMAIN_OF, exclude_uploads=[u for u, _ in uploads]
        )
        rows = _current(uploads, rows, sources)
        # the latest height before the chunk's first day could start (BMI without one)
        height = await observation_rows.latest_height_m(
            conn, user, local_day_bounds_ms(chunk[0], 840)[0]
        )
        computed = await off_loop(compute_days, rows, chunk, height)
        await _write(res, conn, user, chunk, computed, sources, derived, training)
    return derived


async def _write(
    res: Resources,
    conn: AsyncConnection,
    user: str,
    days: list[date],
    computed: dict[date, DayResult],
    sources: dict[tuple[str, str], str],
    derived: Derived,
    training: bool,
) -> None:
    # the stored days whose metrics the journals read: [first - 14, last]
    around = await repo.load_days_around(conn, user, days[0], days[-1], HISTORY_DAYS)
    stored = {row.local_date: row for row in around}
    writer = _DayWriter(res, user, [(row.local_date, row.metrics) for row in around], training)
    if training:  # sample data (me.samples) never becomes a training example
        writer.sample_uploads = await _sample_uploads(conn, user)
    for day in days:
        result = computed[day]
        row = stored.get(day)
        if not result.metrics:  # nothing left on this day: no stub day
            if row is not None:
                await writer.delete(conn, day)
                derived.deleted.append(day)
                derived.changed.add(day)
            continue
        if row is None or row.metrics != result.metrics:
            derived.changed.add(day)
        provenance = {
            domain: {
                "uploads": sorted({sources[(o.record_type, o.hc_id)] for o in found}),
                "records": sorted(o.hc_id for o in found),
            }
            for domain, found in sorted(result.observations.items())
            if domain in result.metrics
        }
        derived.facts[day] = await writer.write(day, result, provenance, row)
        derived.results[day] = result
    await writer.prune()
    await repo.save_days(conn, writer.day_rows)
    await repo.save_narratives(conn, writer.narrative_rows)


def verified_upload(narrative: Narrative, derived: Derived, where: str) -> bool:
    """An upload narrative's claims, each against the recomputation of its own day."""
    report = Report()
    for claim in narrative.claims:
        day = date.fromisoformat(claim.window[0][:10])
        report.add(check([claim], derived.facts.get(day, {})))
    return _record(report, "upload", where)


def verified(narrative: Narrative, known: dict[str, Any], kind: str, where: str) -> bool:
    """Check every claim against the independent recomputation; log and count failures."""
    return _record(check(narrative.claims, known), kind, where)


def _record(report: Report, kind: str, where: str) -> bool:
    prom.CLAIMS_CHECKED.labels(outcome="verified").inc(report.verified)
    if report.ok:
        return True
    prom.CLAIMS_CHECKED.labels(outcome="failed").inc(len(report.failures))
    prom.NARRATIVES_WITHHELD.labels(kind=kind).inc()
    log.error(
        "narrative withheld: claims failed verification",
        extra={
            "narrative": where,
            "failures": [f"{f.metric}={f.claimed!r}: {f.reason}" for f in report.failures[:20]],
        },
    )
    return False


async def _sample_uploads(conn: AsyncConnection, user: str) -> set[str]:
    """The person's uploads of the web app's synthetic sample data (their description)."""
    from healthplatform.db.models import Upload
    from healthplatform.uploads import SAMPLE_DESCRIPTION

    rows = await conn.execute(
        select(Upload.id).where(Upload.user_id == user, Upload.description == SAMPLE_DESCRIPTION)
    )
    return {str(u) for u in rows.scalars()}


class _DayWriter:
    """Writes one day's journal (verified before it is published), training example (only
    for people who opted in) and rows, keeping the history the next days' journals read."""

    def __init__(
        self, res: Resources, user: str, past: list[tuple[date, Any]], training: bool
    ) -> None:
        self.res = res
        self.user = user
        self.past = past
        self.training = training  # the person opted in to AI training
        self.day_rows: list[dict[str, Any]] = []
        self.narrative_rows: list[dict[str, Any]] = []
        self.training_keys: dict[date, str | None] = {}
        self.sample_uploads: set[str] = set()

    async def prune(self) -> None:
        """Delete every other version of the written days' examples, including one left by
        an attempt killed before its commit (the user lock makes this the only writer).
        One listing per month instead of one per day."""
        for month in sorted({training_month_prefix(self.user, day) for day in self.training_keys}):
            async for stale in self.res.store.list(month):
                day = training_day(stale.key)
                if day in self.training_keys and stale.key != self.training_keys[day]:
                    await self.res.store.delete(stale.key)

    async def delete(self, conn: AsyncConnection, day: date) -> None:
        await repo.delete_day(conn, self.user, day)
        self.training_keys[day] = None
        self.past = [p for p in self.past if p[0] != day]

    async def write(
        self, day: date, result: DayResult, provenance: dict[str, Any], row: Any
    ) -> dict[str, Any]:
        """Write the day; returns the verifier's values for it."""
        history = [p for p in self.past if p[0] < day]
        journal = daily_journal(day, result.metrics, history, result.context)
        known = facts(result.inputs, day, height_m=result.height_m, history=history)
        published = verified(journal, known, "daily", f"{self.user}:{day.isoformat()}")
        key: str | None = None
        uploads = {str(u) for p in provenance.values() for u in p["uploads"]}
        if published and self.training and not uploads & self.sample_uploads:
            key, body = training_example(
                self.user,
                day,
                result.metrics,
                journal,
                upload_ids=sorted({u for p in provenance.values() for u in p["uploads"]}),
                record_ids=sorted({r for p in provenance.values() for r in p["records"]}),
                version=DEFINITIONS_VERSION,
            )
            if (row.training_key if row else None) != key:
                await self.res.store.put(key, body, "application/json")
        self.training_keys[day] = key
        self.day_rows.append(
            repo.day_row(
                self.user,
                day,
                result.metrics,
                DEFINITIONS_VERSION,
                provenance,
                key,
                result.context,
                result.series,
            )
        )
        self.narrative_rows.append(
            narrative_row(
                f"daily:{self.user}:{day.isoformat()}",
                self.user,
                "daily",
                day,
                None,
                sorted(result.metrics),
                journal,
                "published" if published else "withheld",
            )
        )
        self.past = sorted(
            [*(p for p in self.past if p[0] != day), (day, result.metrics)], key=lambda p: p[0]
        )
        return known


def narrative_row(
    key: str,
    user: str,
    kind: str,
    day: date | None,
    upload_id: Any,
    domains: list[str],
    narrative: Narrative,
    status: str = "published",
) -> dict[str, Any]:
    return repo.narrative_row(
        key=key,
        user_id=user,
        kind=kind,
        local_date=day,
        upload_id=upload_id,
        domains=domains,
        version=DEFINITIONS_VERSION,
        narrative=narrative,
        status=status,
    )
