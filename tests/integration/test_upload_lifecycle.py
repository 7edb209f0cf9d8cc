"""The uploads table's status lifecycle (``uploads.repository.TRANSITIONS``), walked on the
embedded backend and on PostgreSQL: every move between two statuses happens exactly when
the table allows it, and each writer of the lifecycle stays inside the table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from itertools import product

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db.engine import create_engine
from healthplatform.db.models import Upload, UploadStatus
from healthplatform.settings import Settings
from healthplatform.uploads import repository as uploads
from healthplatform.uploads.repository import TRANSITIONS

pytestmark = pytest.mark.integration
STATUSES = list(UploadStatus)


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[AsyncConnection]:
    """A transaction that is rolled back: the test leaves no rows and no events."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            yield conn
            await conn.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
def user() -> str:
    return f"lifecycle-{uuid.uuid4().hex}"


async def _upload(conn: AsyncConnection, user: str, status: UploadStatus) -> uuid.UUID:
    """A row in ``status`` (written directly: the test sets up any state)."""
    upload_id, now = uuid.uuid4(), datetime.now(UTC)
    await conn.execute(
        insert(Upload).values(
            id=upload_id,
            user_id=user,
            sha256=upload_id.hex * 2,
            record_type="StepsRecord",
            object_key=f"raw/{user}/StepsRecord/2026/01/01/{upload_id.hex}.avro",
            file_name="StepsRecord_1.avro",
            file_size_bytes=1,
            record_count=1,
            codec="null",
            status=status.value,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    return upload_id


async def _status(conn: AsyncConnection, upload_id: uuid.UUID) -> UploadStatus:
    found = await conn.execute(select(Upload.status).where(Upload.id == upload_id))
    return UploadStatus(found.scalar_one())


async def test_every_move_happens_exactly_when_the_table_allows_it(
    conn: AsyncConnection, user: str
) -> None:
    for before, after in product(STATUSES, STATUSES):
        upload_id = await _upload(conn, user, before)
        moved = await uploads.transition(conn, [upload_id], after)
        allowed = after in TRANSITIONS[before]
        assert moved == ({upload_id} if allowed else set()), (before, after)
        assert await _status(conn, upload_id) == (after if allowed else before)


def test_a_writer_cannot_widen_the_table() -> None:
    for before, after in product(STATUSES, STATUSES):
        if after not in TRANSITIONS[before]:
            with pytest.raises(ValueError, match="not allowed"):
                uploads.sources(after, frozenset({before}))


Operation = Callable[[AsyncConnection, uuid.UUID], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "claim": lambda conn, i: uploads.claim(conn, i),
    "take_queued": lambda conn, i: uploads.take_queued(conn, [i]),
    "still_processing": lambda conn, i: uploads.still_processing(conn, i),
    "complete": lambda conn, i: uploads.complete(
        conn, [{"upload_id": i, "preview": "p", "report": {}}]
    ),
    "mark_failed": lambda conn, i: uploads.mark_failed(conn, i, "e"),
    "quarantine": lambda conn, i: uploads.mark_failed(conn, i, "e", quarantine=True),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_each_writer_moves_only_along_the_table(
    conn: AsyncConnection, user: str, name: str
) -> None:
    for before in STATUSES:
        upload_id = await _upload(conn, user, before)
        await OPERATIONS[name](conn, upload_id)
        after = await _status(conn, upload_id)
        assert after == before or after in TRANSITIONS[before], (name, before, after)


async def test_reprocess_resets_only_finished_uploads(conn: AsyncConnection, user: str) -> None:
    ids = {s: await _upload(conn, user, s) for s in STATUSES}
    found = await uploads.of_user(conn, user)
    assert await uploads.requeue(conn, found, uploads.FINISHED, "reprocess") == 3
    for status, upload_id in ids.items():
        expected = UploadStatus.queued if status in uploads.FINISHED else status
        assert await _status(conn, upload_id) == expected
