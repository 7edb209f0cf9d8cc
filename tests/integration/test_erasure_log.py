"""The erasure log: written before anything is deleted, read back, applied by time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from healthplatform.core.identity import user_key
from healthplatform.db.models import Upload
from healthplatform.me import erasure_log
from healthplatform.settings import Settings
from healthplatform.storage.local import LocalObjectStore
from tests.integration.test_backup_helpers import running_api
from tests.support.services import KeySet

pytestmark = pytest.mark.integration


async def test_entries_round_trip_and_which_a_restore_applies(tmp_path: Path) -> None:
    log = LocalObjectStore(tmp_path)
    await log.start()
    erased = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    await erasure_log.record(log, "a" * 32, erased)
    await erasure_log.record(log, "b" * 32, erased + timedelta(days=2))
    await log.put("erasure-log/not-an-entry.txt", b"x")  # ignored, never fatal
    entries = await erasure_log.read_all(log)
    assert [(e.user_id, e.erased_at) for e in entries] == [
        ("a" * 32, erased),
        ("b" * 32, erased + timedelta(days=2)),
    ]
    # a backup from before both erasures: both people go; from between: only the later
    assert erasure_log.due(entries, erased - timedelta(days=1)) == {"a" * 32, "b" * 32}
    assert erasure_log.due(entries, erased + timedelta(days=1)) == {"b" * 32}
    # a backup started while the erasure ran (within the margin) still contained them
    assert erasure_log.due(entries, erased + timedelta(minutes=5)) == {"a" * 32, "b" * 32}
    assert erasure_log.due(entries, erased + timedelta(days=3)) == set()


async def test_no_erasure_without_its_log_entry(
    production_settings: Settings, keys: KeySet, samples: list[Path]
) -> None:
    """The log is written first: when it cannot be written (its bucket is missing) the
    erasure answers 503 and deletes nothing (the person retries); when it can, the entry
    is there."""
    user = f"user-{uuid.uuid4().hex}"
    broken = production_settings.model_copy(update={"erasure_log_bucket": "hp-no-such-bucket"})
    async with running_api(broken, keys) as api:
        assert (await api.upload(user, samples[0].name, samples[0].read_bytes())).status_code == 202
        refused = await api.http.delete("/v1/me/data", headers=api.auth(user))
        assert refused.status_code == 503, refused.text
        res = api.app.state.resources  # type: ignore[attr-defined]
        async with res.sessions() as session:
            kept = (
                await session.execute(select(func.count()).where(Upload.user_id == user_key(user)))
            ).scalar_one()
        assert kept == 1
    async with running_api(production_settings, keys) as api:
        erased = await api.http.delete("/v1/me/data", headers=api.auth(user))
        assert erased.status_code == 200, erased.text
        res = api.app.state.resources  # type: ignore[attr-defined]
        async with erasure_log.open_log(res.settings, res.store) as log:
            assert user_key(user) in {e.user_id for e in await erasure_log.read_all(log)}
