"""Rebuilding derived data from the raw uploads (`healthplatform reprocess`), on the
embedded backends and on PostgreSQL + S3: the rebuilt metrics, narratives, observations
and training examples are identical to the originals, a second run changes nothing, an
erased user stays erased, and users with work in flight are left alone unless forced."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from healthplatform.core.identity import user_key
from healthplatform.db.engine import create_engine
from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.ops.backups.reprocess import reprocess, reprocess_user
from healthplatform.runtime import Resources
from tests.conftest import ApiClient
from tests.integration.test_backup_helpers import (
    Platform,
    running_api,
    store_digest,
)
from tests.integration.test_etl import process_all, upload_files
from tests.support import services

pytestmark = pytest.mark.integration


def _resources(api: ApiClient) -> Resources:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    return res


async def derived(api: ApiClient) -> dict[str, Any]:
    """Everything the ETL derives, without row ids and timestamps."""
    res = _resources(api)
    async with res.engine.connect() as conn:
        days = (await conn.execute(select(DailyMetrics.__table__))).all()
        narratives = (await conn.execute(select(Narrative.__table__))).all()
        observations = (await conn.execute(select(ObservationRow.__table__))).all()
        uploads = (await conn.execute(select(Upload.__table__))).all()
    return {
        "days": sorted(
            (d.user_id, d.local_date, d.metrics, d.provenance, d.training_key) for d in days
        ),
        "narratives": sorted(
            (n.key, n.kind, n.local_date, n.domains, n.statistical, n.structural, n.semantic)
            for n in narratives
        ),
        "observations": sorted(
            (o.user_id, o.record_type, o.hc_id, o.start_ms, o.fields, str(o.upload_id))
            for o in observations
        ),
        "uploads": sorted((str(u.id), u.status, u.narrative_preview, u.report) for u in uploads),
        "training": await store_digest(res.store, "training/"),
    }


async def test_rebuild_from_raw_uploads_is_identical_and_idempotent(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    async with running_api(platform.settings, keys) as api:
        for user in ("rebuild-a", "rebuild-b"):
            await upload_files(api, user, samples)
        await process_all(api)
        original = await derived(api)
        assert original["days"] and original["narratives"] and original["training"]

        res = _resources(api)
        async with res.engine.begin() as conn:  # lose every derived row and object
            for model in (ObservationRow, DailyMetrics, Narrative):
                await conn.execute(delete(model))
        await res.store.delete_prefix("training/")

        ran = await asyncio.to_thread(platform.cli, "reprocess", "--all", "--yes")
        assert ran.exit_code == 0, ran.output
        assert f"{2 * len(samples)} uploads queued" in ran.output
        await process_all(api)
        assert await derived(api) == original

        ran = await asyncio.to_thread(platform.cli, "reprocess", "--all", "--yes")
        assert ran.exit_code == 0, ran.output
        await process_all(api)
        assert await derived(api) == original


@pytest.mark.parametrize("platform", ["production"], indirect=True)
async def test_erased_user_stays_erased(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    async with running_api(platform.settings, keys) as api:
        await upload_files(api, "erased", samples[:6])
        await upload_files(api, "kept", samples[:6])
        await process_all(api)
        erased = await api.http.delete("/v1/me/data", headers=api.auth("erased"))
        assert erased.status_code == 200
        res = _resources(api)
        results = await reprocess(res.engine, res.store, [user_key("erased"), user_key("kept")])
        assert [r.uploads for r in results] == [0, 6]
        await process_all(api)
        export = await api.http.get("/v1/me/export", headers=api.auth("erased"))
        assert [line for line in export.text.splitlines() if '"upload"' in line] == []
        assert [o async for o in res.store.list(f"training/{user_key('erased')}/")] == []
        async with res.engine.connect() as conn:
            rows = await conn.execute(
                select(ObservationRow.id).where(ObservationRow.user_id == user_key("erased"))
            )
            assert rows.first() is None
        kept = await api.http.get("/v1/narratives?kind=upload", headers=api.auth("kept"))
        assert kept.json()["pagination"]["total"] == 6


@pytest.mark.parametrize("platform", ["embedded"], indirect=True)
async def test_users_with_work_in_flight_are_skipped_unless_forced(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    async with running_api(platform.settings, keys) as api:
        await upload_files(api, "busy", samples[:2])  # queued, the worker has not run
        engine = create_engine(platform.settings)
        try:
            store = _resources(api).store
            skipped = await reprocess_user(engine, store, user_key("busy"))
            assert skipped.skipped and skipped.busy == 2
            forced = await reprocess_user(engine, store, user_key("busy"), force=True)
            assert forced.uploads == 2 and not forced.skipped
        finally:
            await engine.dispose()
        await process_all(api)
        history = await api.http.get("/v1/upload/history", headers=api.auth("busy"))
        assert {u["status"] for u in history.json()["uploads"]} == {"completed"}
