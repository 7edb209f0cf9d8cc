"""Placing a person's records on their clock, in the database (rules: ``etl.zones``).

An upload's records are placed before they are stored, from the person's zone evidence
(table ``zone_evidence``: which app wrote which offset in which hour; small, one row per
fact) and their set zones. Stored records move when what placed them changes: new trusted
evidence changes the inferred zone around it, an app is found stamping UTC, or the person
sets their zone. Every move marks the local days the record left and the days it reached,
so those days are derived again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.models import Observation as Row
from healthplatform.db.models import UtcStampingOrigin, ZoneEvidence, ZoneSetting
from healthplatform.etl import zones
from healthplatform.etl.observation_rows import day_span, observation_days
from healthplatform.healthconnect.observations import Observation

HOUR_MS = zones.HOUR_MS
Dirty = set[date]  # local days to derive again


@dataclass
class Moved:
    """Stored records placed again: the days to derive again, and each moved record's new
    placement (type, id) -> placement, for copies of them held in memory."""

    days: Dirty = field(default_factory=set)
    records: dict[tuple[str, str], zones.Placement] = field(default_factory=dict)

    def apply_to(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            placement = self.records.get((obs.record_type, obs.hc_id))
            if placement is not None:
                zones.apply(obs, placement)


_REACH_HOURS = 48  # evidence loaded around an upload, besides the nearest on each side


@dataclass
class UploadPlacement:
    """What placing one upload found out, for the moves after it is stored."""

    full: bool = False  # an app was newly found stamping UTC: re-place everything
    changed_hours: tuple[int, int] | None = None  # first/last hour of new trusted evidence
    stamping: set[str] = field(default_factory=set)


async def history(conn: AsyncConnection, user: str) -> list[zones.SetZone]:
    rows = await conn.execute(
        select(ZoneSetting.valid_from_ms, ZoneSetting.zone)
        .where(ZoneSetting.user_id == user)
        .order_by(ZoneSetting.valid_from_ms.asc().nulls_first(), ZoneSetting.id)
    )
    return [zones.SetZone(ms, zone) for ms, zone in rows]


async def stamping_origins(conn: AsyncConnection, user: str) -> set[str]:
    rows = await conn.execute(
        select(UtcStampingOrigin.origin).where(UtcStampingOrigin.user_id == user)
    )
    return set(rows.scalars())


_EVIDENCE = (ZoneEvidence.hour, ZoneEvidence.origin, ZoneEvidence.offset_minutes)


async def evidence_rows(
    conn: AsyncConnection, user: str, first_hour: int | None, last_hour: int | None
) -> list[zones.Evidence]:
    query = select(*_EVIDENCE).where(ZoneEvidence.user_id == user)
    if first_hour is not None:
        query = query.where(ZoneEvidence.hour >= first_hour)
    if last_hour is not None:
        query = query.where(ZoneEvidence.hour <= last_hour)
    return [(h, o, off) for h, o, off in await conn.execute(query)]


async def _nearest(
    conn: AsyncConnection, user: str, stamping: set[str], *, before: int | None = None,
    after: int | None = None,
) -> list[zones.Evidence]:  # fmt: skip
    """The trusted evidence of the latest hour before ``before`` (or the earliest hour
    after ``after``), all of that hour's rows."""
    trusted = or_(ZoneEvidence.offset_minutes != 0, ZoneEvidence.origin.not_in(sorted(stamping)))
    query = select(ZoneEvidence.hour).where(ZoneEvidence.user_id == user, trusted)
    if before is not None:
        query = query.where(ZoneEvidence.hour < before).order_by(ZoneEvidence.hour.desc())
    else:
        query = query.where(ZoneEvidence.hour > after).order_by(ZoneEvidence.hour)
    hour = (await conn.execute(query.limit(1))).scalar_one_or_none()
    if hour is None:
        return []
    return zones.trusted_evidence(await evidence_rows(conn, user, hour, hour), stamping)


async def _timeline(
    conn: AsyncConnection, user: str, stamping: set[str], first_hour: int, last_hour: int
) -> zones.Timeline:
    """The trusted evidence from ``first_hour`` to ``last_hour`` and the nearest outside."""
    found = await evidence_rows(conn, user, first_hour, last_hour)
    found += await _nearest(conn, user, stamping, before=first_hour)
    found += await _nearest(conn, user, stamping, after=last_hour)
    return zones.Timeline(zones.trusted_evidence(found, stamping))


async def place_upload(
    conn: AsyncConnection, user: str, observations: Sequence[Observation]
) -> UploadPlacement:
    """Record the upload's evidence, find apps stamping UTC, and place its records (before
    they are stored)."""
    mine = zones.evidence(observations)
    hours = sorted({h for h, _, _ in mine})
    known = await stamping_origins(conn, user)
    new_stamping: set[str] = set()
    new_evidence: set[zones.Evidence] = set()
    if mine:
        stored = set(await evidence_rows(conn, user, hours[0], hours[-1]))
        new_evidence = mine - stored
        new_stamping = zones.utc_stamping(e for e in stored | mine if e[0] in set(hours)) - known
        await _insert_ignore(
            conn,
            ZoneEvidence,
            [{"user_id": user, "hour": h, "origin": o, "offset_minutes": off}
             for h, o, off in sorted(new_evidence)],
        )  # fmt: skip
        await _insert_ignore(
            conn, UtcStampingOrigin, [{"user_id": user, "origin": o} for o in sorted(new_stamping)]
        )
    stamping = known | new_stamping
    first = min(o.start_ms for o in observations) // HOUR_MS
    last = max(o.end_ms for o in observations) // HOUR_MS
    timeline = await _timeline(conn, user, stamping, first - _REACH_HOURS, last + _REACH_HOURS)
    zone_history = await history(conn, user)
    for obs in observations:
        zones.apply(obs, zones.place(obs, zone_history, timeline, stamping))
    changed = zones.trusted_evidence(new_evidence, stamping)
    span = (min(e[0] for e in changed), max(e[0] for e in changed)) if changed else None
    return UploadPlacement(full=bool(new_stamping), changed_hours=span, stamping=stamping)


async def _insert_ignore(conn: AsyncConnection, model: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(model).on_conflict_do_nothing(), rows)


_PLACEMENT_COLUMNS = (
    Row.id,
    Row.record_type,
    Row.hc_id,
    Row.start_ms,
    Row.end_ms,
    Row.offset_minutes,
    Row.end_offset_minutes,
    Row.record_offset,
    Row.record_end_offset,
    Row.zone_source,
    Row.origin,
    Row.local_date,
    Row.end_local_date,
)


async def _move(
    conn: AsyncConnection,
    rows: Iterable[Any],
    zone_history: Sequence[zones.SetZone],
    timeline: zones.Timeline,
    stamping: set[str],
) -> Moved:
    """Re-place ``rows``; store and mark (old and new days) the ones that moved."""
    moved = Moved()
    dirty = moved.days
    changes: list[dict[str, Any]] = []
    for row in rows:
        obs = Observation(
            record_type=row.record_type,
            hc_id=row.hc_id,
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            offset_minutes=row.offset_minutes,
            end_offset_minutes=row.end_offset_minutes,
            origin=row.origin,
            record_offset=row.record_offset,
            record_end_offset=row.record_end_offset,
            zone_source=row.zone_source,
        )
        placement = zones.place(obs, zone_history, timeline, stamping)
        if not zones.apply(obs, placement):
            continue
        moved.records[(row.record_type, row.hc_id)] = placement
        days = observation_days(obs)
        dirty.update(day_span(row.local_date, row.end_local_date))
        dirty.update(days)
        changes.append(
            {
                "row_id": row.id,
                "offset": obs.offset_minutes,
                "end_offset": obs.end_offset_minutes,
                "source": obs.zone_source,
                "first": days[0],
                "last": days[-1],
            }
        )
    if changes:
        await conn.execute(
            update(Row)
            .where(Row.id == bindparam("row_id"))
            .values(
                offset_minutes=bindparam("offset"),
                end_offset_minutes=bindparam("end_offset"),
                zone_source=bindparam("source"),
                local_date=bindparam("first"),
                end_local_date=bindparam("last"),
            ),
            changes,
        )
    return moved


async def replace_after_upload(conn: AsyncConnection, user: str, placed: UploadPlacement) -> Moved:
    """Move stored records whose placement the upload's new evidence changed: those placed
    by inference from the last trusted hour before the new evidence up to the next trusted
    hour after it (or from the start when nothing came before)."""
    if placed.full:
        return await replace_all(conn, user)
    if placed.changed_hours is None:
        return Moved()
    first, last = placed.changed_hours
    stamping = placed.stamping
    before = await _nearest(conn, user, stamping, before=first)
    after = await _nearest(conn, user, stamping, after=last)
    lo = first * HOUR_MS if before else None
    hi = after[0][0] * HOUR_MS if after else None
    query = select(*_PLACEMENT_COLUMNS).where(
        Row.user_id == user, Row.zone_source.in_(("inferred", "utc"))
    )
    if lo is not None:
        query = query.where(Row.start_ms >= lo)
    if hi is not None:
        query = query.where(Row.start_ms < hi)
    rows = list(await conn.execute(query))
    if not rows:
        return Moved()
    found = await evidence_rows(conn, user, first, last) + before + after
    timeline = zones.Timeline(zones.trusted_evidence(found, stamping))
    return await _move(conn, rows, await history(conn, user), timeline, stamping)


async def replace_all(conn: AsyncConnection, user: str) -> Moved:
    """Re-place every stored record of the person (their zone setting changed, or an app
    was found stamping UTC)."""
    stamping = await stamping_origins(conn, user)
    rows = list(await conn.execute(select(*_PLACEMENT_COLUMNS).where(Row.user_id == user)))
    found = zones.trusted_evidence(await evidence_rows(conn, user, None, None), stamping)
    return await _move(conn, rows, await history(conn, user), zones.Timeline(found), stamping)
