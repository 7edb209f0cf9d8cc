"""Hot statements on the asyncpg driver write exactly what SQLAlchemy would, and a lost
connection is answered with 503 and never reused."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.db.engine import create_engine
from healthplatform.db.models import OutboxEvent, Upload
from healthplatform.etl import observation_rows as repo
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row
from healthplatform.healthconnect.observations import Observation
from healthplatform.settings import Settings
from healthplatform.uploads.repository import insert_with_event, row_of, upload_event
from tests.integration.test_faults import via_proxy
from tests.support.proxy import FlakyProxy

pytestmark = pytest.mark.integration


def new_upload() -> tuple[dict[str, object], dict[str, object]]:
    now = datetime(2026, 11, 26, 10, 30, 15, 123456, tzinfo=UTC)
    upload = Upload(
        id=uuid.uuid4(),
        user_id=f"u-{uuid.uuid4().hex[:12]}",
        sha256=uuid.uuid4().hex * 2,
        record_type="StepsRecord",
        object_key=f"raw/x/StepsRecord/2026/11/26/{uuid.uuid4().hex}.avro",
        file_name="StepsRecord_1.avro",
        description='zürich \N{DROPLET} "quoted"',
        file_size_bytes=123,
        record_count=7,
        codec="deflate",
        data_start=now,
        data_end=now,
        status="queued",
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    event = outbox_row(UPLOAD_RECEIVED, upload_event(upload, note={"nested": [1, 2.5, None]}))
    return row_of(upload), event


async def insert(engine: AsyncEngine, row: dict[str, object], event: dict[str, object]) -> bool:
    """The upload's one-statement insert, on a connection of its own."""
    async with engine.connect() as conn:
        return await insert_with_event(conn, row, event)


@pytest.fixture
async def engine(production_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(production_settings)
    yield engine
    await engine.dispose()


async def test_insert_round_trips_every_column(engine: AsyncEngine) -> None:
    row, event = new_upload()
    assert await insert(engine, row, event)
    async with engine.connect() as conn:
        stored = (
            (await conn.execute(select(Upload.__table__).where(Upload.id == row["id"])))
            .mappings()
            .one()
        )
        stored_event = (
            (
                await conn.execute(
                    select(OutboxEvent.__table__).where(
                        OutboxEvent.payload["upload_id"].as_string() == str(row["id"])
                    )
                )
            )
            .mappings()
            .one()
        )
    assert dict(stored) == row
    assert {k: stored_event[k] for k in event} == event
    assert stored_event["payload"]["note"] == {"nested": [1, 2.5, None]}


async def test_duplicate_writes_neither_row_nor_event(engine: AsyncEngine) -> None:
    row, event = new_upload()
    assert await insert(engine, row, event)
    again = dict(row, id=uuid.uuid4())
    assert not await insert(engine, again, event)
    async with engine.connect() as conn:
        ids = (
            await conn.execute(select(Upload.id).where(Upload.user_id == row["user_id"]))
        ).scalars()
        events = (
            await conn.execute(
                select(OutboxEvent.id).where(
                    OutboxEvent.payload["user_id"].as_string() == row["user_id"]
                )
            )
        ).scalars()
        assert list(ids) == [row["id"]]
        assert len(list(events)) == 1


async def test_cut_connection_is_replaced_before_use(production_settings: Settings) -> None:
    """A pooled connection the server side closed is never handed out again (db/engine.py):
    the next statement runs on a new connection instead of answering 503."""
    proxy = FlakyProxy(5432)
    await proxy.up()
    engine = create_engine(
        production_settings.model_copy(
            update={"database_url": via_proxy(production_settings.database_url, proxy)}
        )
    )
    try:
        assert await insert(engine, *new_upload())  # a pooled connection now exists
        await proxy.down()  # cuts it
        await proxy.up()  # the server is reachable again; the pooled connection is dead
        # without the check the pool would hand out the dead connection: a 503
        assert await insert(engine, *new_upload())
        assert await insert(engine, *new_upload())
    finally:
        await engine.dispose()
        await proxy.down()


def _scans(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    found = []
    if plan.get("Relation Name") == "observations" and plan["Node Type"] != "ModifyTable":
        found.append((plan["Node Type"], plan.get("Index Name")))
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def test_observation_upsert_reads_only_the_rows_it_replaces(engine: AsyncEngine) -> None:
    """The days of replaced versions come back without reading other rows, also under the
    generic plan a prepared statement gets after five runs (a look-up joined back to the
    table read all of the person's rows on every upload there: 5 ms became 130 ms within
    three weeks of data)."""
    user, day_ms = f"u-{uuid.uuid4().hex[:12]}", 1_758_326_400_000  # 2025-09-20T00:00Z
    stored = [
        Observation("StepsRecord", f"s{i}", day_ms + i * 60_000, day_ms + i * 60_000, 0, {}, 1)
        for i in range(2000)
    ]
    moved = [  # newer versions of two records, now on the next day
        dataclasses.replace(
            o,
            start_ms=o.start_ms + 86_400_000,
            end_ms=o.end_ms + 86_400_000,
            last_modified_ms=2,
            touched_days=None,
        )
        for o in stored[:2]
    ]
    async with engine.begin() as conn:
        assert await repo.upsert_observations(conn, user, uuid.uuid4(), stored) == set()
        left = await repo.upsert_observations(conn, user, uuid.uuid4(), moved)
        assert left == {date(2025, 9, 20)}
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        again = [dataclasses.replace(o, last_modified_ms=3) for o in moved]
        [(plan,)] = await driver.fetch(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + repo._PG_UPSERT,
            user,
            uuid.uuid4(),
            *repo._pg_columns(again),
        )
        await conn.rollback()
    assert _scans(plan[0]["Plan"]) == []  # (the json codec has decoded the plan)
