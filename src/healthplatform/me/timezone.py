"""The person's home time zone: their settings history and what their records show.

Setting a zone (or handing back to inference) is one transaction: the history row and a
request to derive the person's days again (``etl.person_jobs``); the ETL worker then places
the person's records again and derives the days that moved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.models import Observation as Row
from healthplatform.db.models import ZoneSetting
from healthplatform.etl import person_jobs, placement, zones
from healthplatform.etl.narratives.journal import zone_label
from healthplatform.runtime import Resources


async def zone_state(res: Resources, user: str) -> dict[str, Any]:
    """What the API shows: the set history, the inferred changes, the zone in force now
    and how the person's stored records were placed."""
    async with res.engine.connect() as conn:
        settings = (
            await conn.execute(
                select(ZoneSetting.valid_from, ZoneSetting.zone)
                .where(ZoneSetting.user_id == user)
                .order_by(ZoneSetting.valid_from_ms.asc().nulls_first(), ZoneSetting.id)
            )
        ).all()
        history = await placement.history(conn, user)
        stamping = await placement.stamping_origins(conn, user)
        found = await placement.evidence_rows(conn, user, None, None)
        placed = await conn.execute(
            select(Row.zone_source, func.count())
            .where(Row.user_id == user)
            .group_by(Row.zone_source)
        )
        records_placed = {source: n for source, n in placed}
        recalculating = await person_jobs.pending(conn, user)
    timeline = zones.Timeline(zones.trusted_evidence(found, stamping))
    now = int(datetime.now(UTC).timestamp() * 1000)
    current = zones.zone_in_force(history, now)
    inferred = timeline.at(now)
    now_state: dict[str, str | None]
    if current is not None:
        offset = zone_label(zones.zone_offset(current, now))
        now_state = {"source": "set", "zone": current, "offset": offset}
    elif inferred is not None:
        now_state = {"source": "inferred", "zone": None, "offset": zone_label(inferred)}
    else:
        now_state = {"source": "utc", "zone": None, "offset": "UTC"}
    return {
        "current": now_state,
        "settings": [{"from": d.isoformat() if d else None, "zone": z} for d, z in settings],
        "inferred": [
            {"from": datetime.fromtimestamp(ms / 1000, UTC).isoformat(), "offset": zone_label(o)}
            for ms, o in timeline.changes()
        ],
        "apps_stamping_utc": sorted(stamping),
        "recalculating": recalculating,
        "records_placed": dict(sorted(records_placed.items())),
    }


def _ms(day: date | None, zone: str) -> int | None:
    if day is None:
        return None
    return zones.midnight_ms(zone if zone != zones.AUTO else "UTC", day.toordinal())


async def set_zone(res: Resources, user: str, zone: str, valid_from: date | None) -> None:
    """From ``valid_from`` on (None: always), the person's zone is ``zone`` (``auto``:
    inferred from their records). Later entries are replaced. Raises ``UnknownZone``."""
    zones.check_zone(zone)
    async with res.engine.begin() as conn:
        await _replace_from(conn, user, valid_from)
        await conn.execute(
            insert(ZoneSetting),
            [
                {
                    "user_id": user,
                    "valid_from": valid_from,
                    "valid_from_ms": _ms(valid_from, zone),
                    "zone": zone,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        await person_jobs.request(conn, user, all_days=False)


async def _replace_from(conn: AsyncConnection, user: str, valid_from: date | None) -> None:
    stmt = delete(ZoneSetting).where(ZoneSetting.user_id == user)
    if valid_from is not None:
        stmt = stmt.where(ZoneSetting.valid_from >= valid_from)
    await conn.execute(stmt)
