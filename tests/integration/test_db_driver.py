"""Hot statements on the asyncpg driver write exactly what SQLAlchemy would, and a lost
connection is answered with 503 and never reused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.core.errors import DependencyUnavailable
from healthplatform.db.engine import create_engine
from healthplatform.db.models import OutboxEvent, Upload
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row
from healthplatform.settings import Settings
from healthplatform.uploads.service import _row, upload_event
from healthplatform.uploads.service import insert_on_postgres as insert
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
    return _row(upload), event


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


async def test_cut_connection_is_503_then_replaced(production_settings: Settings) -> None:
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
        with pytest.raises(DependencyUnavailable):
            await insert(engine, *new_upload())
        # without invalidation the pool would hand out the dead connection again
        assert await insert(engine, *new_upload())
    finally:
        await engine.dispose()
        await proxy.down()
