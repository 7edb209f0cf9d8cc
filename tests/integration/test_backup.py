"""Backups on PostgreSQL + S3 (moto) and on the embedded backends: create, verify by
restoring, tamper detection, restore refusals, rotation, erased users leaving the backups,
status metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from healthplatform.auth.settings import AuthSettings
from healthplatform.core.identity import user_key
from healthplatform.ops.backups.create import create_backup, find_backup, stored_backups
from healthplatform.ops.backups.db import DatabaseTarget, database_targets
from healthplatform.ops.backups.restore import RestoreError, restore_database
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.status import export_status_metrics
from healthplatform.ops.backups.store import DatabaseName, Kind, open_backup_store
from healthplatform.ops.backups.verify import verify_backup
from healthplatform.storage import create_object_store
from tests.integration.test_backup_helpers import (
    Platform,
    embedded_platform,
    migrate,
    production_platform,
    running_api,
)
from tests.integration.test_etl import process_all, upload_files
from tests.support import services

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(s3_endpoint: str, jwks_url: str, tmp_path: Path) -> Iterator[Platform]:
    with production_platform(s3_endpoint, jwks_url, tmp_path) as platform:
        asyncio.run(migrate(platform))
        yield platform


def health(platform: Platform) -> DatabaseTarget:
    return database_targets(platform.settings, platform.auth)[DatabaseName.health]


def gauge(name: str, database: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"database": database})


async def test_backup_verify_and_tampering_on_postgres(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    async with running_api(platform.settings, keys) as api:
        await upload_files(api, "backup-user", samples[:4])
        await process_all(api)
    lake = create_object_store(platform.settings)
    await lake.start()
    async with open_backup_store(platform.settings, platform.backup) as store:
        try:
            outcome = await create_backup(health(platform), store, platform.backup, lake=lake)
        finally:
            await lake.close()
        manifest = outcome.manifest
        assert manifest.format == "pg_dump-custom" and manifest.dump_tool.startswith("pg_dump")
        assert manifest.row_counts["uploads"] == 4 and manifest.alembic_revision
        assert outcome.raw is not None and outcome.raw.copied == 4

        good = await verify_backup(health(platform), store, platform.backup)
        assert good.ok, good.checks
        assert {c.name for c in good.checks} >= {"checksum", "row counts", "raw copies"}
        await export_status_metrics(store)
        assert gauge("hp_backup_last_verify_ok", "health") == 1
        assert (gauge("hp_backup_last_success_timestamp_seconds", "health") or 0) > 0

        with pytest.raises(RestoreError, match="--replace"):  # the live database has tables
            await restore_database(health(platform), store, platform.backup, manifest)
        replaced = await restore_database(
            health(platform), store, platform.backup, manifest, replace=True
        )
        assert replaced.replaced and replaced.checks is not None and replaced.checks.ok

        data = bytearray(await store.get(manifest.dump_key))  # one flipped byte
        data[len(data) // 2] ^= 0xFF
        await store.put(manifest.dump_key, bytes(data))
        bad = await verify_backup(health(platform), store, platform.backup)
        assert not bad.ok and bad.checks[0].name == "checksum" and not bad.checks[0].ok
        with pytest.raises(RestoreError, match="corrupted"):
            await restore_database(health(platform), store, platform.backup, manifest)
        await export_status_metrics(store)
        assert gauge("hp_backup_last_verify_ok", "health") == 0

        lying = json.loads(manifest.to_json())  # intact dump, manifest row counts changed
        lying["row_counts"]["uploads"] = 5
        await store.put(manifest.key, json.dumps(lying).encode())
        await store.put(manifest.dump_key, bytes(data[: len(data) // 2]))
        assert not (await verify_backup(health(platform), store, platform.backup)).ok


async def test_rotation_and_erased_users_leave_the_backups(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    cfg = BackupSettings(bucket=platform.backup_bucket, keep_daily=2, keep_weekly=1)
    lake = create_object_store(platform.settings)
    await lake.start()
    try:
        async with (
            running_api(platform.settings, keys) as api,
            open_backup_store(platform.settings, cfg) as store,
        ):
            await upload_files(api, "leaver", samples[:3])
            await upload_files(api, "stayer", samples[3:5])
            await process_all(api)
            target = health(platform)
            first = await create_backup(target, store, cfg, lake=lake)
            assert (await api.http.delete("/v1/me/data", headers=api.auth("leaver"))).is_success
            leaver = f"backups/raw/{user_key('leaver')}/"
            await create_backup(target, store, cfg, Kind.weekly, lake=lake)
            await create_backup(target, store, cfg, lake=lake)
            # the first backup still references the erased user's files: they stay ...
            assert len([o async for o in store.list(leaver)]) == 3
            last = await create_backup(target, store, cfg, lake=lake)
            # ... until it is rotated out
            assert first.manifest.dump_key in last.expired
            assert last.pruned_raw_copies == 3
            assert [o async for o in store.list(leaver)] == []
            stayer = f"backups/raw/{user_key('stayer')}/"
            assert len([o async for o in store.list(stayer)]) == 2
            kept = await stored_backups(store, cfg.prefix, "health")
            assert [b.kind for b in kept] == ["weekly", "daily", "daily"]
            assert all(b.complete and len(b.keys) == 3 for b in kept)
            newest = await find_backup(store, cfg.prefix, "health")
            assert newest.dump_key == last.manifest.dump_key
    finally:
        await lake.close()


async def test_sqlite_cycle_through_the_cli(jwks_url: str, tmp_path: Path) -> None:
    platform = embedded_platform(jwks_url, tmp_path)
    await migrate(platform)
    made = await asyncio.to_thread(platform.cli, "backup", "create", "--kind", "weekly")
    assert made.exit_code == 0, made.output
    assert "backups/health/weekly/" in made.output and "backups/auth/weekly/" in made.output
    listed = await asyncio.to_thread(platform.cli, "backup", "list")
    assert listed.exit_code == 0 and "weekly" in listed.output
    checked = await asyncio.to_thread(platform.cli, "backup", "verify")
    assert checked.exit_code == 0, checked.output
    refused = await asyncio.to_thread(platform.cli, "backup", "restore", "--yes")
    assert refused.exit_code == 1 and "--replace" in refused.output
    platform.settings.data_dir.joinpath("health.db").unlink()
    auth = AuthSettings(data_dir=tmp_path)
    restored = await asyncio.to_thread(
        platform.cli, "backup", "restore", "--database", "health", "--yes"
    )
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "health.db").is_file() and auth.resolved_database_url
    status = await asyncio.to_thread(platform.cli, "backup", "status")
    body = json.loads(status.stdout)
    assert body["databases"]["health"]["last_verify_ok"] is True
