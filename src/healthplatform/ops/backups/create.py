"""Logical backups of the health and auth databases (`healthplatform backup create`).

PostgreSQL: ``pg_dump -Fc`` of a snapshot exported by a REPEATABLE READ transaction that
also counts the rows, reads the schema revision and lists the referenced raw objects, so
the manifest describes exactly what the dump holds. SQLite: the online backup API. Then:
dump, object list, manifest (last) into the backup store, new raw uploads copied,
rotation, status for the metrics.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform import __version__
from healthplatform.core.progress import QuietReporter, Reporter
from healthplatform.db.models import Upload
from healthplatform.ops.backups import db as db
from healthplatform.ops.backups.db import DatabaseTarget
from healthplatform.ops.backups.manifest import (
    FORMAT_PG,
    FORMAT_SQLITE,
    Manifest,
    ManifestError,
    file_sha256,
)
from healthplatform.ops.backups.pg import find_tool, libpq_target, pg_dump, tool_version
from healthplatform.ops.backups.raw import (
    CopyResult,
    backup_raw_objects,
    decode_key_list,
    encode_key_list,
    list_keys,
    prune_raw_copies,
)
from healthplatform.ops.backups.rotation import StoredBackup, expired, group_backups
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.sqlite import sqlite_copy
from healthplatform.ops.backups.status import export_status_metrics, record_backup
from healthplatform.ops.backups.store import (
    DUMP_SUFFIX,
    MANIFEST_SUFFIX,
    OBJECTS_SUFFIX,
    DatabaseName,
    Kind,
    dump_key,
    objects_key_for,
    raw_copy_key,
)
from healthplatform.storage import ObjectStore
from healthplatform.storage.layout import RAW_PREFIX

__all__ = [
    "BackupError",
    "BackupOutcome",
    "create_backup",
    "export_status_metrics",
    "find_backup",
    "stored_backups",
]
GB = 1_000_000_000


class BackupError(Exception):
    """A backup could not be made or found; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    """What the dump holds, read in the dump's own snapshot."""

    format: str
    row_counts: dict[str, int]
    revision: str | None
    server_version: str
    dump_tool: str
    object_keys: set[str] | None  # health only


@dataclass
class BackupOutcome:
    manifest: Manifest
    raw: CopyResult | None = None
    expired: list[str] = field(default_factory=list)
    pruned_raw_copies: int = 0
    stored_bytes: int = 0
    raw_copies: int = 0
    warnings: list[str] = field(default_factory=list)


async def _describe(
    conn: AsyncConnection, target: DatabaseTarget
) -> tuple[dict[str, int], str | None, str, set[str] | None]:
    counts = await db.row_counts(conn)
    revision = await db.revision(conn, target.version_table)
    version = await db.server_version(conn)
    keys = None
    if target.name is DatabaseName.health and "uploads" in counts:
        keys = set((await conn.execute(select(Upload.object_key))).scalars())
    return counts, revision, version, keys


async def _snapshot_postgres(target: DatabaseTarget, out: Path, cfg: BackupSettings) -> Snapshot:
    tool = find_tool("pg_dump", cfg.pg_bin_dir)
    version = await tool_version(tool)
    async with db.open_engine(target.url) as engine, engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            exported = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            counts, revision, server, keys = await _describe(conn, target)
            # the transaction stays open until pg_dump has attached to its snapshot and finished
            await pg_dump(
                tool,
                libpq_target(target.url),
                out,
                snapshot=str(exported),
                time_limit=cfg.command_timeout_seconds,
            )
    return Snapshot(FORMAT_PG, counts, revision, server, version, keys)


async def _snapshot_sqlite(target: DatabaseTarget, out: Path) -> Snapshot:
    await asyncio.to_thread(sqlite_copy, target.sqlite_path, out)
    async with db.open_engine(f"sqlite+aiosqlite:///{out}") as engine, engine.connect() as conn:
        counts, revision, server, keys = await _describe(conn, target)
    return Snapshot(FORMAT_SQLITE, counts, revision, server, "sqlite3 online backup API", keys)


async def create_backup(
    target: DatabaseTarget,
    store: ObjectStore,
    cfg: BackupSettings,
    kind: Kind = Kind.daily,
    *,
    lake: ObjectStore | None = None,
    reporter: Reporter | None = None,
) -> BackupOutcome:
    """Dump ``target`` into ``store``; for the health database also copy new raw uploads
    from ``lake`` (when given). The result (or the error) is recorded in ``status.json``."""
    report = reporter or QuietReporter()
    try:
        outcome = await _create(target, store, cfg, kind, lake, report)
    except Exception as exc:
        await record_backup(store, cfg.prefix, target.name, key=None, error=str(exc)[:1000])
        raise
    await record_backup(
        store,
        cfg.prefix,
        target.name,
        key=outcome.manifest.dump_key,
        error=None,
        usage=(outcome.stored_bytes, outcome.raw_copies),
    )
    return outcome


async def _create(
    target: DatabaseTarget,
    store: ObjectStore,
    cfg: BackupSettings,
    kind: Kind,
    lake: ObjectStore | None,
    report: Reporter,
) -> BackupOutcome:
    started = datetime.now(UTC)
    key = dump_key(cfg.prefix, target.name, kind, started)
    with tempfile.TemporaryDirectory(prefix="hp-backup-") as folder:
        out = Path(folder) / f"{target.name}{DUMP_SUFFIX}"
        report.step(f"{target.name}: dumping ({'SQLite' if target.is_sqlite else 'pg_dump'})")
        snap = await (
            _snapshot_sqlite(target, out)
            if target.is_sqlite
            else _snapshot_postgres(target, out, cfg)
        )
        sha256, size = await asyncio.to_thread(file_sha256, out)
        report.step(f"{target.name}: uploading {size / 1e6:.1f} MB to {key}")
        await store.put(key, await asyncio.to_thread(out.read_bytes))
    objects_key = None
    if snap.object_keys is not None:
        objects_key = objects_key_for(key)
        await store.put(objects_key, encode_key_list(snap.object_keys), "application/gzip")
    manifest = Manifest(
        database=target.name,
        kind=kind,
        dump_key=key,
        format=snap.format,
        sha256=sha256,
        size_bytes=size,
        row_counts=snap.row_counts,
        alembic_revision=snap.revision,
        started_at=started,
        finished_at=datetime.now(UTC),
        dump_tool=snap.dump_tool,
        server_version=snap.server_version,
        app_version=__version__,
        objects_key=objects_key,
    )
    await store.put(manifest.key, manifest.to_json(), "application/json")
    outcome = BackupOutcome(manifest)
    if snap.revision is None:
        outcome.warnings.append(
            f"{target.name}: no schema revision in this database; is it the platform's "
            "database (`healthplatform migrate` creates the schema)?"
        )
    lake_keys: set[str] | None = None
    if target.name is DatabaseName.health and lake is not None:
        lake_keys = await list_keys(lake, f"{RAW_PREFIX}/")
        await _copy_raw(lake, store, cfg, lake_keys, outcome, report)
    outcome.expired = await rotate(store, cfg, target.name)
    if lake_keys is not None:
        outcome.pruned_raw_copies = await _prune_raw(store, cfg.prefix, lake_keys)
    outcome.stored_bytes, outcome.raw_copies = await usage(store, cfg.prefix)
    if outcome.stored_bytes > cfg.budget_gb * GB:
        outcome.warnings.append(
            f"backups use {outcome.stored_bytes / GB:.2f} GB, over the "
            f"HP_BACKUP_BUDGET_GB={cfg.budget_gb} GB plan (see docs/backup.md, sizing)"
        )
    return outcome


async def _copy_raw(
    lake: ObjectStore,
    store: ObjectStore,
    cfg: BackupSettings,
    lake_keys: set[str],
    outcome: BackupOutcome,
    report: Reporter,
) -> None:
    bar = report.bar("raw uploads -> backup store")
    outcome.raw = await backup_raw_objects(
        lake,
        store,
        cfg.prefix,
        concurrency=cfg.copy_concurrency,
        lake_keys=lake_keys,
        on_total=bar.total,
        advance=bar.advance,
    )
    if outcome.raw.corrupt:
        outcome.warnings.append(
            f"{len(outcome.raw.corrupt)} raw objects in the data lake do not match their "
            f"SHA-256 (not copied): {', '.join(outcome.raw.corrupt[:5])}"
        )


async def stored_backups(
    store: ObjectStore, prefix: str, database: str | None = None
) -> list[StoredBackup]:
    """Every backup (complete or not) under ``prefix``, oldest first."""
    scope = f"{prefix}{database}/" if database else prefix
    return group_backups([i.key async for i in store.list(scope)], prefix)


async def rotate(store: ObjectStore, cfg: BackupSettings, database: str) -> list[str]:
    """Delete the backups the retention policy no longer keeps; their keys."""
    keep = {Kind.daily.value: cfg.keep_daily, Kind.weekly.value: cfg.keep_weekly}
    doomed = expired(await stored_backups(store, cfg.prefix, database), keep, datetime.now(UTC))
    deleted = []
    for backup in doomed:
        # the manifest goes first: a half-deleted backup is then "incomplete", never restored
        for key in sorted(backup.keys, key=lambda k: not k.endswith(MANIFEST_SUFFIX)):
            await store.delete(key)
            deleted.append(key)
    return deleted


async def _prune_raw(store: ObjectStore, prefix: str, lake_keys: set[str]) -> int:
    """Raw copies referenced neither by a retained health backup nor by the lake go."""
    referenced: set[str] = set()
    for backup in await stored_backups(store, prefix, DatabaseName.health):
        if not backup.complete:
            continue
        index = next((k for k in backup.keys if k.endswith(OBJECTS_SUFFIX)), None)
        if index is None:
            return 0  # a retained backup without its object list: prune nothing
        referenced |= decode_key_list(await store.get(index))
    return await prune_raw_copies(store, prefix, referenced | lake_keys)


async def usage(store: ObjectStore, prefix: str) -> tuple[int, int]:
    """Bytes stored under ``prefix`` and the number of raw copies."""
    total = raw = 0
    raw_prefix = raw_copy_key(prefix, f"{RAW_PREFIX}/")
    async for info in store.list(prefix):
        total += info.size
        raw += info.key.startswith(raw_prefix)
    return total, raw


async def read_manifest(store: ObjectStore, backup: StoredBackup) -> Manifest:
    key = next(k for k in backup.keys if k.endswith(MANIFEST_SUFFIX))
    return Manifest.from_json(await store.get(key))


async def find_backup(
    store: ObjectStore,
    prefix: str,
    database: str,
    *,
    stamp: str | None = None,
    before: datetime | None = None,
) -> Manifest:
    """The newest complete backup of ``database`` (or the one with ``stamp``, or the newest
    taken before ``before``). Unreadable manifests are skipped for older ones."""
    candidates = [b for b in await stored_backups(store, prefix, database) if b.complete]
    if stamp is not None:
        candidates = [b for b in candidates if b.stamp == stamp]
    if before is not None:
        candidates = [b for b in candidates if b.taken_at < before]
    problems = []
    for backup in reversed(candidates):
        try:
            return await read_manifest(store, backup)
        except ManifestError as exc:
            problems.append(f"{backup.stamp}: {exc}")
    which = f" {stamp}" if stamp else ""
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise BackupError(f"no complete {database} backup{which} under {prefix}{detail}")
