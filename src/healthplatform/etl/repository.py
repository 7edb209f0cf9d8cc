"""SQL of the narrative engine: observation upserts, day windows, metrics and narratives."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, and_, case, delete, or_, select, text, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.metrics.activity import EXERCISE
from healthplatform.etl.observations import Observation

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
        "offset_minutes": obs.offset_minutes,
        "end_offset_minutes": obs.end_offset_minutes,
        "offset_known": obs.offset_known,
        "local_date": days[0],
        "end_local_date": days[-1],
        "fields": obs.fields,
        "upload_id": upload_id,
    }


async def lock_user(conn: AsyncConnection, user_id: str) -> None:
    """Serialise one user's processing (PostgreSQL advisory lock for this transaction;
    SQLite serialises writers by itself)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(user_id[:16]), "big", signed=True)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


_UPDATED_ON_NEWER = (
    "last_modified_ms",
    "start_ms",
    "end_ms",
    "offset_minutes",
    "end_offset_minutes",
    "offset_known",
    "local_date",
    "end_local_date",
    "fields",
    "upload_id",
)
_COLUMNS = ("user_id", "record_type", "hc_id", *_UPDATED_ON_NEWER)
# PostgreSQL hot path: one statement per batch with every column as an array parameter
# (asyncpg encodes arrays in binary; no per-row round trip or SQLAlchemy processing).
# Built from the constant column names above only (no input reaches the text).
_PG_UPSERT = (
    f"INSERT INTO observations ({', '.join(_COLUMNS)}) "  # noqa: S608
    "SELECT $1, r.record_type, r.hc_id, r.last_modified_ms, r.start_ms, r.end_ms, "
    "r.offset_minutes, r.end_offset_minutes, r.offset_known, r.local_date, r.end_local_date, "
    "r.fields::json, $2 "
    "FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], "
    "$8::int[], $9::int[], $10::bool[], $11::date[], $12::date[], $13::text[]) AS r("
    "record_type, hc_id, last_modified_ms, start_ms, end_ms, offset_minutes, "
    "end_offset_minutes, offset_known, local_date, end_local_date, fields) "
    "ON CONFLICT (user_id, record_type, hc_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED_ON_NEWER)
    + " WHERE observations.last_modified_ms < EXCLUDED.last_modified_ms"
)
PG_UPSERT_BATCH = 10_000


def _pg_columns(observations: Sequence[Observation]) -> list[list[Any]]:
    """The array parameters of ``_PG_UPSERT`` ($3..$13), JSON already encoded."""
    days = [observation_days(o) for o in observations]
    return [
        [o.record_type for o in observations],
        [o.hc_id for o in observations],
        [o.last_modified_ms for o in observations],
        [o.start_ms for o in observations],
        [o.end_ms for o in observations],
        [o.offset_minutes for o in observations],
        [o.end_offset_minutes for o in observations],
        [o.offset_known for o in observations],
        [d[0] for d in days],
        [d[-1] for d in days],
        [orjson.dumps(o.fields).decode() for o in observations],
    ]


async def upsert_observations(
    conn: AsyncConnection, user_id: str, upload_id: uuid.UUID, observations: Sequence[Observation]
) -> None:
    """Insert new records; replace existing ones only with a strictly newer version."""
    if not observations:
        return
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        for i in range(0, len(observations), PG_UPSERT_BATCH):
            batch = observations[i : i + PG_UPSERT_BATCH]
            await driver.execute(_PG_UPSERT, user_id, upload_id, *_pg_columns(batch))
        return
    rows = [_row(user_id, upload_id, o) for o in observations]
    stmt = sqlite.insert(ObservationRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "record_type", "hc_id"],
        set_={c: stmt.excluded[c] for c in _UPDATED_ON_NEWER},
        where=ObservationRow.last_modified_ms < stmt.excluded.last_modified_ms,
    )
    for i in range(0, len(rows), UPSERT_BATCH):
        await conn.execute(stmt, rows[i : i + UPSERT_BATCH])


async def load_window(
    conn: AsyncConnection,
    user_id: str,
    first: date,
    last: date,
    record_types: Collection[str],
    exclude_upload: uuid.UUID | None = None,
) -> tuple[list[Observation], dict[str, str]]:
    """The user's observations of ``record_types`` touching [first, last] (exercise
    sessions touching the day before or after too: the recovery window after a late
    session), and the upload each current version came from (by Health Connect id). Rows
    written by ``exclude_upload`` are left out (the caller holds them in memory)."""
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
            *([table.c.upload_id != exclude_upload] if exclude_upload else []),
        )
    )
    observations: list[Observation] = []
    sources: dict[str, str] = {}
    for row in result.mappings():
        observations.append(
            Observation(
                record_type=row["record_type"],
                hc_id=row["hc_id"],
                start_ms=row["start_ms"],
                end_ms=row["end_ms"],
                offset_minutes=row["offset_minutes"],
                fields=row["fields"],
                last_modified_ms=row["last_modified_ms"],
                offset_known=row["offset_known"],
                end_offset_minutes=row["end_offset_minutes"],
            )
        )
        sources[row["hc_id"]] = str(row["upload_id"])
    return observations, sources


async def load_days_around(
    conn: AsyncConnection, user_id: str, first: date, last: date, reach: int
) -> list[Any]:
    """The user's stored daily rows in [first - reach, last + reach], oldest first, in one
    query: metrics of all of them (the journals' history), provenance and training key
    only from ``first`` on (the days that may be rewritten)."""
    table = DailyMetrics.__table__
    rewritable = table.c.local_date >= first
    rows = await conn.execute(
        select(
            table.c.local_date,
            table.c.metrics,
            type_coerce(case((rewritable, table.c.provenance)), JSON).label("provenance"),
            case((rewritable, table.c.training_key)).label("training_key"),
        )
        .where(
            table.c.user_id == user_id,
            table.c.local_date >= first - timedelta(days=reach),
            table.c.local_date <= last + timedelta(days=reach),
        )
        .order_by(table.c.local_date)
    )
    return list(rows)


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


async def _upsert_many(
    conn: AsyncConnection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: stmt.excluded[k] for k in rows[0] if k not in keys}
    )
    await conn.execute(stmt, rows)


def day_row(
    user_id: str,
    day: date,
    metrics: dict[str, Any],
    version: str,
    provenance: dict[str, Any],
    training: str | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "local_date": day,
        "metrics": metrics,
        "definitions_version": version,
        "source_upload_ids": sorted({u for p in provenance.values() for u in p["uploads"]}),
        "provenance": provenance,
        "training_key": training,
        "updated_at": datetime.now(UTC),
    }


def narrative_row(
    *,
    key: str,
    user_id: str,
    kind: str,
    local_date: date | None,
    upload_id: uuid.UUID | None,
    domains: list[str],
    layers: tuple[str, str, str],
    version: str,
) -> dict[str, Any]:
    return {
        "key": key,
        "user_id": user_id,
        "kind": kind,
        "local_date": local_date,
        "upload_id": upload_id,
        "domains": domains,
        "statistical": layers[0],
        "structural": layers[1],
        "semantic": layers[2],
        "definitions_version": version,
        "updated_at": datetime.now(UTC),
    }


async def save_days(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _upsert_many(conn, DailyMetrics.__table__, rows, ("user_id", "local_date"))


async def save_narratives(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _upsert_many(conn, Narrative.__table__, rows, ("key",))


async def delete_user(conn: AsyncConnection, user_id: str) -> int:
    total = 0
    for model in (ObservationRow, DailyMetrics, Narrative):
        result = await conn.execute(delete(model).where(model.user_id == user_id))
        total += int(getattr(result, "rowcount", 0) or 0)
    return total
