"""Disaster-recovery drill on the real local PostgreSQL and the moto S3 server.

Data goes in through the API (the real sample files) and the ETL worker; `healthplatform
backup create` runs as an operator would; then both databases are dropped and the data
lake bucket emptied; `healthplatform backup restore` brings everything back. Every table
(uploads, observations, daily metrics, narratives, outbox, auth) must hold the same rows
and every raw upload and training example the same bytes as before. RPO and RTO measured
here are printed (docs/backup.md quotes them).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import text

from healthplatform.auth.maintenance import run_maintenance
from healthplatform.core.identity import user_key
from healthplatform.ops.backups.create import find_backup
from healthplatform.ops.backups.db import open_engine
from healthplatform.ops.backups.status import export_status_metrics
from healthplatform.ops.backups.store import open_backup_store
from healthplatform.storage import create_object_store
from tests.integration.test_backup_helpers import (
    Platform,
    database_digest,
    migrate,
    production_platform,
    running_api,
    store_digest,
)
from tests.integration.test_etl import process_all, upload_files
from tests.support import services

pytestmark = pytest.mark.integration
USERS = ("drill-alice", "drill-bob")


@pytest.fixture
def platform(s3_endpoint: str, jwks_url: str, tmp_path: Path) -> Iterator[Platform]:
    with production_platform(s3_endpoint, jwks_url, tmp_path) as platform:
        asyncio.run(migrate(platform))
        asyncio.run(run_maintenance(platform.auth))  # a signing key: real auth rows
        yield platform


async def _last_write(url: str) -> datetime:
    async with open_engine(url) as engine, engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT max(t) FROM (SELECT max(updated_at) AS t FROM uploads UNION ALL "
                "SELECT max(updated_at) FROM daily_metrics UNION ALL "
                "SELECT max(updated_at) FROM narratives UNION ALL "
                "SELECT max(created_at) FROM outbox_events) AS w"
            )
        )
        moment: datetime = found.scalar_one()
    return moment.astimezone(UTC)


def _destroy(platform: Platform) -> None:
    """DROP both databases (FORCE: connections are killed) and empty the lake bucket."""

    async def drop() -> None:
        admin = services.PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://")
        async with open_engine(admin, autocommit=True) as engine, engine.connect() as conn:
            for url in (platform.settings.database_url, platform.auth.database_url):
                name = url.rsplit("/", 1)[1]
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))

    asyncio.run(drop())
    s3 = boto3.client(
        "s3",
        endpoint_url=platform.settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    listing = s3.list_objects_v2(Bucket=platform.lake_bucket).get("Contents", [])
    for item in listing:
        s3.delete_object(Bucket=platform.lake_bucket, Key=item["Key"])
    assert s3.list_objects_v2(Bucket=platform.lake_bucket).get("KeyCount") == 0


async def _contents(platform: Platform) -> dict[str, object]:
    lake = create_object_store(platform.settings)
    await lake.start()
    try:
        return {
            "health": await database_digest(platform.settings.database_url),
            "auth": await database_digest(platform.auth.database_url),
            "raw": await store_digest(lake, "raw/"),
            "training": await store_digest(lake, "training/"),
        }
    finally:
        await lake.close()


async def test_disaster_recovery_drill(
    platform: Platform,
    samples: list[Path],
    keys: services.KeySet,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = platform.settings
    async with running_api(settings, keys) as api:
        accepted = {user: await upload_files(api, user, samples) for user in USERS}
        await process_all(api)
    before = await _contents(platform)
    health = before["health"]
    assert isinstance(health, dict)
    assert health["uploads"][0] == len(USERS) * len(samples)
    assert health["observations"][0] > 1000 and health["narratives"][0] > 0
    assert health["daily_metrics"][0] > 0 and before["training"]
    last_write = await _last_write(settings.database_url)

    created = await asyncio.to_thread(platform.cli, "backup", "create", "--database", "all")
    assert created.exit_code == 0, created.output
    async with open_backup_store(settings, platform.backup) as store:
        manifest = await find_backup(store, "backups/", "health")
    rpo = (manifest.started_at - last_write).total_seconds()
    backup_seconds = (manifest.finished_at - manifest.started_at).total_seconds()

    destroyed = time.monotonic()
    await asyncio.to_thread(_destroy, platform)
    restored = await asyncio.to_thread(
        platform.cli, "backup", "restore", "--database", "all", "--yes"
    )
    assert restored.exit_code == 0, restored.output
    restore_seconds = time.monotonic() - destroyed
    after = await _contents(platform)
    for part in ("health", "auth", "raw", "training"):
        assert after[part] == before[part], part
    async with running_api(settings, keys) as api:  # and the API serves it again
        for user, bodies in accepted.items():
            history = await api.http.get("/v1/upload/history?limit=100", headers=api.auth(user))
            assert history.json()["pagination"]["total"] == len(bodies)
            status = await api.http.get(
                f"/v1/upload/status/{bodies[0]['correlation_id']}", headers=api.auth(user)
            )
            assert status.json()["status"] == "completed"
    rto = time.monotonic() - destroyed

    verified = await asyncio.to_thread(platform.cli, "backup", "verify")
    assert verified.exit_code == 0, verified.output
    async with open_backup_store(settings, platform.backup) as store:
        recorded = await export_status_metrics(store)
    assert recorded.database("health").last_verify_ok
    assert recorded.database("auth").last_verify_ok
    measured = {
        "rpo_seconds": round(rpo, 3),
        "backup_seconds": round(backup_seconds, 3),
        "restore_seconds": round(restore_seconds, 3),
        "rto_seconds": round(rto, 3),
        "dump_bytes": manifest.size_bytes,
        "rows": manifest.total_rows,
        "raw_objects": len(before["raw"]),  # type: ignore[arg-type]
        "users": [user_key(u)[:8] for u in USERS],
    }
    with capsys.disabled():
        print(f"\nDR drill: {json.dumps(measured)}")
    assert 0 <= rpo < 60 and rto < 60


async def _rows_mentioning(url: str, needle: str) -> dict[str, int]:
    """Per table, rows whose text (every column) contains ``needle``."""
    async with open_engine(url) as engine, engine.connect() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        found = {}
        for table in list(tables):
            count = (
                await conn.execute(
                    text(f'SELECT count(*) FROM "{table}" AS r WHERE r::text LIKE :pattern'),
                    {"pattern": f"%{needle}%"},
                )
            ).scalar_one()
            if count:
                found[table] = int(count)
    return found


async def test_an_erasure_survives_the_restore_of_an_older_backup(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    """Erase a person after the backup was taken, lose everything, restore that backup:
    none of their rows and none of their objects (raw uploads, training examples, the
    backups' raw copies) come back; the other person's data all does."""
    settings = platform.settings
    alice, bob = USERS
    erased_key = user_key(alice)
    async with running_api(settings, keys) as api:
        for user in USERS:
            await api.opt_in(user)  # training examples: derived data that must go too
            await upload_files(api, user, samples)
        await process_all(api)
    before = await _contents(platform)
    assert isinstance(before["training"], dict) and isinstance(before["raw"], dict)
    assert any(erased_key in k for k in before["training"])
    assert any(erased_key in k for k in before["raw"])
    assert await _rows_mentioning(settings.database_url, erased_key)
    created = await asyncio.to_thread(platform.cli, "backup", "create", "--database", "all")
    assert created.exit_code == 0, created.output

    async with running_api(settings, keys) as api:  # the erasure, after the backup
        erased = await api.http.delete("/v1/me/data", headers=api.auth(alice))
        assert erased.status_code == 200, erased.text
    await asyncio.to_thread(_destroy, platform)
    restored = await asyncio.to_thread(
        platform.cli, "backup", "restore", "--database", "all", "--yes"
    )
    assert restored.exit_code == 0, restored.output
    assert "erasure log applied: 1 people" in " ".join(restored.output.split())

    after = await _contents(platform)
    assert await _rows_mentioning(settings.database_url, erased_key) == {}
    for part in ("raw", "training"):
        kept = after[part]
        assert isinstance(kept, dict)
        assert not [k for k in kept if erased_key in k], part
        assert kept == {k: v for k, v in before[part].items() if erased_key not in k}  # type: ignore[union-attr]
    async with open_backup_store(settings, platform.backup) as store:
        copies = [i.key async for i in store.list("backups/raw/") if erased_key in i.key]
    assert copies == []
    health = after["health"]
    assert isinstance(health, dict) and health["uploads"][0] == len(samples)  # bob's, all back
    # restored by other means (PITR to the backup's time): the same log, by command; repeat-safe
    async with open_backup_store(settings, platform.backup) as store:
        manifest = await find_backup(store, "backups/", "health")
    again = await asyncio.to_thread(
        platform.cli,
        "backup",
        "apply-erasures",
        "--restored-to",
        manifest.started_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "--yes",
    )
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "1 people were erased" in said and "(0 rows, 0 lake objects" in said
    async with running_api(settings, keys) as api:
        for user, expected in ((alice, 0), (bob, len(samples))):
            history = await api.http.get("/v1/upload/history?limit=100", headers=api.auth(user))
            assert history.json()["pagination"]["total"] == expected
