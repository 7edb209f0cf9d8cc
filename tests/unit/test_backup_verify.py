"""Verification must fail on a damaged backup (SQLite files and a local store: no servers)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import HEALTH
from healthplatform.ops.backups.create import BackupError, create_backup, find_backup
from healthplatform.ops.backups.db import DatabaseTarget, database_targets
from healthplatform.ops.backups.manifest import Manifest
from healthplatform.ops.backups.restore import RestoreError, restore_database
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.status import read_status
from healthplatform.ops.backups.store import DatabaseName
from healthplatform.ops.backups.verify import verify_backup
from healthplatform.settings import Settings
from healthplatform.storage.local import LocalObjectStore


@pytest.fixture
async def health(tmp_path: Path) -> DatabaseTarget:
    settings = Settings(data_dir=tmp_path)
    await HEALTH.upgrade(settings)
    with sqlite3.connect(tmp_path / "health.db") as conn:  # a row the counts must match
        conn.execute(
            "INSERT INTO outbox_events (topic, payload, headers, status, attempts, created_at,"
            " available_at) VALUES ('t', '{}', '{}', 'done', 0, '2026-01-01', '2026-01-01')"
        )
    return database_targets(settings, AuthSettings(data_dir=tmp_path))[DatabaseName.health]


@pytest.fixture
async def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "backup-store")
    await store.start()
    return store


CFG = BackupSettings()


async def test_good_backup_verifies(health: DatabaseTarget, store: LocalObjectStore) -> None:
    outcome = await create_backup(health, store, CFG)
    assert outcome.manifest.row_counts["outbox_events"] == 1
    assert outcome.manifest.format == "sqlite"
    report = await verify_backup(health, store, CFG)
    assert report.ok, report.checks
    assert (await read_status(store, CFG.prefix)).database("health").last_verify_ok


async def test_corrupted_dump_fails_verification_and_restore(
    health: DatabaseTarget, store: LocalObjectStore
) -> None:
    manifest = (await create_backup(health, store, CFG)).manifest
    data = bytearray(await store.get(manifest.dump_key))
    data[-10] ^= 0x55
    await store.put(manifest.dump_key, bytes(data))
    report = await verify_backup(health, store, CFG)
    assert not report.ok and report.error and report.error.startswith("checksum")
    status = (await read_status(store, CFG.prefix)).database("health")
    assert status.last_verify_ok is False and status.last_verify_success_at is None
    with pytest.raises(RestoreError, match="corrupted"):
        await restore_database(health, store, CFG, manifest, replace=True)


async def test_tampered_manifest_fails_verification(
    health: DatabaseTarget, store: LocalObjectStore
) -> None:
    manifest = (await create_backup(health, store, CFG)).manifest
    body = json.loads(manifest.to_json())
    body["row_counts"]["outbox_events"] = 2
    await store.put(manifest.key, json.dumps(body).encode())
    report = await verify_backup(health, store, CFG)
    assert [c.name for c in report.checks if not c.ok] == ["row counts"]
    body["alembic_revision"] = "0001"
    body["row_counts"]["outbox_events"] = 1
    await store.put(manifest.key, json.dumps(body).encode())
    report = await verify_backup(health, store, CFG)
    assert [c.name for c in report.checks if not c.ok] == ["schema revision"]


async def test_unreadable_manifest_falls_back_to_an_older_backup(
    health: DatabaseTarget, store: LocalObjectStore
) -> None:
    older = (await create_backup(health, store, CFG)).manifest
    newer = (await create_backup(health, store, CFG)).manifest
    await store.put(newer.key, b"{broken")
    assert (await find_backup(store, CFG.prefix, "health")).dump_key == older.dump_key
    await store.put(older.key, b"")
    with pytest.raises(BackupError, match="no complete health backup"):
        await find_backup(store, CFG.prefix, "health")


async def test_restore_into_a_missing_file(
    health: DatabaseTarget, store: LocalObjectStore, tmp_path: Path
) -> None:
    manifest = (await create_backup(health, store, CFG)).manifest
    elsewhere = health.with_url(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'health.db'}")
    report = await restore_database(elsewhere, store, CFG, manifest)
    assert report.ok and report.created_database
    assert Manifest.from_json(manifest.to_json()).row_counts == manifest.row_counts
