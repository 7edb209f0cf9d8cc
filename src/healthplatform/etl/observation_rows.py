"""SQL of the observations table: upserting a person's records (the newest version of
each wins) and reading them back by local day."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.metrics.activity import EXERCISE
from healthplatform.healthconnect.observations import Observation

UPSERT_BATCH = 1000


_EPOCH = date(1970, 1, 1)
_DAY_MS = 86_400_000


def observation_days(obs: Observation) -> tuple[date, ...]:
    """Local dates an observation touches (capped at a week for very long records).
    Integer arithmetic, computed once per observation: this runs several times for every
    record."""
    days = obs.touched_days
    if days is None:
        end_offset = (
            obs.end_offset_minutes if obs.end_offset_minutes is not None else obs.offset_minutes
        )
        first = (obs.start_ms + obs.offset_minutes * 60_000) // _DAY_MS
        last = max(first, (obs.end_ms + end_offset * 60_000) // _DAY_MS)
        days = obs.touched_days = _dates(first, min(last, first + 7))
    return days


@lru_cache(maxsize=8192)
def _dates(first: int, last: int) -> tuple[date, ...]:
    return tuple(_EPOCH + timedelta(days=d) for d in range(first, last + 1))


def _row(user_id: str, upload_id: uuid.UUID, obs: Observation) -> dict[str, Any]:
    days = observation_days(obs)
    return {
        "user_id": user_id,
        "record_type": obs.record_type,
        "hc_id": obs.hc_id,
        "last_modified_ms": obs.last_modified_ms,
        "start_ms": obs.start_ms,
        "end_ms": obs.end_ms,
        "content_hash": obs.content_hash,
        "offset_minutes": obs.offset_minutes,
        "end_offset_minutes": obs.end_offset_minutes,
        "record_offset": obs.record_offset,
        "record_end_offset": obs.record_end_offset,
        "zone_source": obs.zone_source,
        "origin": obs.origin,
        "local_date": days[0],
        "end_local_date": days[-1],
        "fields": obs.fields,
        "upload_id": upload_id,
    }


_UPDATED_ON_NEWER = (
    "last_modified_ms",
    "content_hash",
    "start_ms",
    "end_ms",
    "offset_minutes",
    "end_offset_minutes",
    "record_offset",
    "record_end_offset",
    "zone_source",
    "origin",
    "local_date",
    "end_local_date",
    "fields",
    "upload_id",
)
_COLUMNS = ("user_id", "record_type", "hc_id", *_UPDATED_ON_NEWER)
# PostgreSQL hot path: one statement per batch with every column as an array parameter
# (asyncpg encodes arrays in binary; no per-row round trip or SQLAlchemy processing).
# Built from the constant column names above only (no input reaches the text).
# The WHERE is ``observations.is_newer``: newer lastModified, then the larger content hash.
_ON_REPLACE = (
    *(f"{c} = EXCLUDED.{c}" for c in _UPDATED_ON_NEWER),
    # the replaced version's days, kept on the row: the statement returns them without
    # looking anything up (a look-up joined back to the table read all of the person's rows
    # under the generic plan of the prepared statement)
    "replaced_local_date = observations.local_date",
    "replaced_end_local_date = observations.end_local_date",
)
_PG_UPSERT = (
    "WITH up AS ("  # noqa: S608
    f"INSERT INTO observations ({', '.join(_COLUMNS)}) "
    "SELECT $1, r.record_type, r.hc_id, r.last_modified_ms, r.content_hash, r.start_ms, "
    "r.end_ms, r.offset_minutes, r.end_offset_minutes, r.record_offset, r.record_end_offset, "
    "r.zone_source, r.origin, r.local_date, r.end_local_date, r.fields::json, $2 "
    "FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], "
    "$8::bigint[], $9::int[], $10::int[], $11::int[], $12::int[], $13::text[], $14::text[], "
    "$15::date[], $16::date[], $17::text[]) AS r("
    "record_type, hc_id, last_modified_ms, content_hash, start_ms, end_ms, offset_minutes, "
    "end_offset_minutes, record_offset, record_end_offset, zone_source, origin, local_date, "
    "end_local_date, fields) "
    "ON CONFLICT (user_id, record_type, hc_id) DO UPDATE SET "
    + ", ".join(_ON_REPLACE)
    + " WHERE (observations.last_modified_ms, observations.content_hash)"
    " < (EXCLUDED.last_modified_ms, EXCLUDED.content_hash)"
    # the same version from another upload: the smaller upload id is its source (the
    # provenance then never depends on the order uploads were processed in)
    " OR ((observations.last_modified_ms, observations.content_hash)"
    " = (EXCLUDED.last_modified_ms, EXCLUDED.content_hash)"
    " AND EXCLUDED.upload_id < observations.upload_id)"
    # xmax is set on a row the statement updated (0 on one it inserted)
    " RETURNING replaced_local_date, replaced_end_local_date, xmax <> 0 AS replaced) "
    "SELECT DISTINCT replaced_local_date, replaced_end_local_date FROM up WHERE replaced"
)
PG_UPSERT_BATCH = 10_000


def _pg_columns(observations: Sequence[Observation]) -> list[list[Any]]:
    """The array parameters of ``_PG_UPSERT`` ($3..$17), JSON already encoded."""
    days = [observation_days(o) for o in observations]
    return [
        [o.record_type for o in observations],
        [o.hc_id for o in observations],
        [o.last_modified_ms for o in observations],
        [o.content_hash for o in observations],
        [o.start_ms for o in observations],
        [o.end_ms for o in observations],
        [o.offset_minutes for o in observations],
        [o.end_offset_minutes for o in observations],
        [o.record_offset for o in observations],
        [o.record_end_offset for o in observations],
        [o.zone_source for o in observations],
        [o.origin for o in observations],
        [d[0] for d in days],
        [d[-1] for d in days],
        [orjson.dumps(o.fields).decode() for o in observations],
    ]


async def upsert_observations(
    conn: AsyncConnection, user_id: str, upload_id: uuid.UUID, observations: Sequence[Observation]
) -> set[date]:
    """Insert new records; replace existing ones only with a newer version (``is_newer``).

    Returns the local days the replaced versions were on: a newer version may have moved,
    and the days it left must be derived again."""
    if not observations:
        return set()
    left: set[date] = set()
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        for i in range(0, len(observations), PG_UPSERT_BATCH):
            batch = observations[i : i + PG_UPSERT_BATCH]
            rows = await driver.fetch(_PG_UPSERT, user_id, upload_id, *_pg_columns(batch))
            for first, last in rows:
                left.update(day_span(first, last))
        return left
    table = ObservationRow.__table__
    by_type: dict[str, list[str]] = {}
    for o in observations:
        by_type.setdefault(o.record_type, []).append(o.hc_id)
    for record_type, ids in by_type.items():  # the versions about to be replaced
        for i in range(0, len(ids), 500):
            found = await conn.execute(
                select(table.c.local_date, table.c.end_local_date)
                .where(
                    table.c.user_id == user_id,
                    table.c.record_type == record_type,
                    table.c.hc_id.in_(ids[i : i + 500]),
                )
                .distinct()
            )
            for first, last in found:
                left.update(day_span(first, last))
    rows = [_row(user_id, upload_id, o) for o in observations]
    stmt = sqlite.insert(ObservationRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "record_type", "hc_id"],
        set_={
            **{c: stmt.excluded[c] for c in _UPDATED_ON_NEWER},
            "replaced_local_date": ObservationRow.local_date,
            "replaced_end_local_date": ObservationRow.end_local_date,
        },
        where=or_(
            tuple_(ObservationRow.last_modified_ms, ObservationRow.content_hash)
            < tuple_(stmt.excluded.last_modified_ms, stmt.excluded.content_hash),
            and_(
                tuple_(ObservationRow.last_modified_ms, ObservationRow.content_hash)
                == tuple_(stmt.excluded.last_modified_ms, stmt.excluded.content_hash),
                stmt.excluded.upload_id < ObservationRow.upload_id,
            ),
        ),
    )
    for i in range(0, len(rows), UPSERT_BATCH):
        await conn.execute(stmt, rows[i : i + UPSERT_BATCH])
    return left


def day_span(first: date, last: date) -> list[date]:
    """The days from ``first`` to ``last`` (a week at most, as ``observation_days``)."""
    return [first + timedelta(days=d) for d in range(min((last - first).days, 7) + 1)]


async def load_window(
    conn: AsyncConnection,
    user_id: str,
    first: date,
    last: date,
    record_types: Collection[str],
    exclude_uploads: Collection[uuid.UUID] = (),
) -> tuple[list[Observation], dict[tuple[str, str], str]]:
    """The user's observations of ``record_types`` touching [first, last] (exercise
    sessions touching the day before or after too: the recovery window after a late
    session), and the upload each current version came from (by record type and Health
    Connect id, the record's key: an id alone may recur across types). Rows
    written by ``exclude_uploads`` are left out (the caller holds them in memory)."""
    table = ObservationRow.__table__
    touching = and_(table.c.local_date <= last, table.c.end_local_date >= first)
    if EXERCISE in record_types:
        touching = or_(
            touching,
            and_(
                table.c.record_type == EXERCISE,
                table.c.local_date <= last + timedelta(days=1),
                table.c.end_local_date >= first - timedelta(days=1),
            ),
        )
    result = await conn.execute(
        select(table).where(
            table.c.user_id == user_id,
            table.c.record_type.in_(sorted(record_types)),
            touching,
            *([table.c.upload_id.not_in(list(exclude_uploads))] if exclude_uploads else []),
        )
    )
    observations: list[Observation] = []
    sources: dict[tuple[str, str], str] = {}
    for row in result.mappings():
        observations.append(to_observation(row))
        sources[(row["record_type"], row["hc_id"])] = str(row["upload_id"])
    return observations, sources


def to_observation(row: Mapping[Any, Any]) -> Observation:
    """An observation from a row of the observations table."""
    return Observation(
        record_type=row["record_type"],
        hc_id=row["hc_id"],
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
        offset_minutes=row["offset_minutes"],
        fields=row["fields"],
        last_modified_ms=row["last_modified_ms"],
        end_offset_minutes=row["end_offset_minutes"],
        origin=row["origin"],
        record_offset=row["record_offset"],
        record_end_offset=row["record_end_offset"],
        zone_source=row["zone_source"],
        content_hash=row["content_hash"],
    )


async def observation_dates(conn: AsyncConnection, user_id: str) -> set[date]:
    """Every local day one of the user's observations touches."""
    table = ObservationRow.__table__
    rows = await conn.execute(
        select(table.c.local_date, table.c.end_local_date)
        .where(table.c.user_id == user_id)
        .distinct()
    )
    return {d for first, last in rows for d in day_span(first, last)}


async def latest_height_m(conn: AsyncConnection, user_id: str, before_ms: int) -> float | None:
    """The newest HeightRecord up to ``before_ms`` (for BMI on days without one)."""
    table = ObservationRow.__table__
    fields = (
        await conn.execute(
            select(table.c.fields)
            .where(
                table.c.user_id == user_id,
                table.c.record_type == "HeightRecord",
                table.c.start_ms < before_ms,
            )
            .order_by(table.c.start_ms.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    value = (fields or {}).get("heightInMeters")
    return float(value) if isinstance(value, int | float) and value > 0 else None
