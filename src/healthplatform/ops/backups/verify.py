"""`healthplatform backup verify`: a backup counts only once it has been restored.

The newest backup (or a chosen one) is downloaded, its checksum compared with the manifest,
and it is restored into a scratch database (PostgreSQL: ``hp_verify_<random>`` on the same
server, dropped afterwards; SQLite: a temporary file). Checks: row counts equal the
manifest, every mapped table reads back through its column types, the schema revision is
the manifest's and reaches the code's head (migrating the scratch copy if the backup
predates a migration), and for the health database every completed upload's raw file has
a copy in the backup store. The result goes to ``status.json`` for the metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from healthplatform.core.progress import QuietReporter, Reporter, short_error
from healthplatform.db.models import Upload, UploadStatus
from healthplatform.ops.backups import db as db
from healthplatform.ops.backups.create import find_backup
from healthplatform.ops.backups.db import DatabaseTarget
from healthplatform.ops.backups.manifest import (
    FORMAT_PG,
    FORMAT_SQLITE,
    Manifest,
    count_differences,
)
from healthplatform.ops.backups.pg import find_tool, libpq_target, pg_restore
from healthplatform.ops.backups.raw import list_keys
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.sqlite import sqlite_integrity
from healthplatform.ops.backups.status import record_verify
from healthplatform.ops.backups.store import DatabaseName, raw_copy_key
from healthplatform.storage import ObjectStore
from healthplatform.storage.layout import RAW_PREFIX

log = logging.getLogger(__name__)
SCRATCH_PREFIX = "hp_verify_"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    database: str
    dump_key: str | None = None
    checks: list[Check] = field(default_factory=list)
    restore_seconds: float | None = None
    total_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def error(self) -> str | None:
        failed = [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]
        return "; ".join(failed) if failed else None

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def matches_checksum(data: bytes, manifest: Manifest) -> tuple[bool, str]:
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != manifest.size_bytes:
        return False, f"size {len(data)} bytes, manifest says {manifest.size_bytes}"
    if digest != manifest.sha256:
        return False, f"sha256 {digest[:16]}..., manifest says {manifest.sha256[:16]}..."
    return True, f"sha256 {digest[:16]}... ({len(data) / 1e6:.1f} MB)"


@asynccontextmanager
async def scratch_copy(
    target: DatabaseTarget, manifest: Manifest, dump: Path, cfg: BackupSettings
) -> AsyncIterator[DatabaseTarget]:
    """``dump`` restored into a throw-away database of the same kind as ``target``."""
    expected = FORMAT_SQLITE if target.is_sqlite else FORMAT_PG
    if manifest.format != expected:
        raise ValueError(f"a {manifest.format} backup cannot be restored into this database")
    if target.is_sqlite:
        with tempfile.TemporaryDirectory(prefix="hp-verify-") as folder:
            path = Path(folder) / "scratch.db"
            await asyncio.to_thread(shutil.copyfile, dump, path)
            yield target.with_url(f"sqlite+aiosqlite:///{path}")
        return
    tool = find_tool("pg_restore", cfg.pg_bin_dir)
    name = f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"
    await db.create_database(target, cfg.maintenance_database, name)
    try:
        url = target.url_for(name)
        await pg_restore(tool, libpq_target(url), dump, time_limit=cfg.command_timeout_seconds)
        yield target.with_url(url)
    finally:
        await db.drop_database(target, cfg.maintenance_database, name)


async def check_restored(
    scratch: DatabaseTarget,
    manifest: Manifest,
    report: VerifyReport,
    store: ObjectStore | None = None,
    prefix: str = "backups/",
    *,
    migrate: bool = True,
) -> None:
    """The integrity checks on a restored copy (also run after a real restore, where
    ``migrate`` is off: a schema behind head is reported, `healthplatform migrate` fixes it)."""
    if scratch.is_sqlite:
        result = await asyncio.to_thread(sqlite_integrity, scratch.sqlite_path)
        report.add("sqlite integrity", result == "ok", result)
    async with db.open_engine(scratch.url) as engine, engine.connect() as conn:
        counts = await db.row_counts(conn)
        diff = count_differences(manifest.row_counts, counts)
        report.add(
            "row counts",
            not diff,
            "; ".join(diff) or f"{sum(counts.values())} rows in {len(counts)} tables",
        )
        try:
            read = await db.sample_reads(conn, scratch.metadata)
        except DBAPIError as exc:
            report.add("sample reads", False, short_error(exc))
            await conn.rollback()
        else:
            report.add("sample reads", True, f"{sum(read.values())} rows from {len(read)} tables")
        revision = await db.revision(conn, scratch.version_table)
        keys: list[str] = []
        if scratch.name is DatabaseName.health and store is not None:
            query = select(Upload.object_key).where(Upload.status == UploadStatus.completed.value)
            keys = list((await conn.execute(query)).scalars())
    report.add(
        "schema revision",
        revision == manifest.alembic_revision,
        f"{revision} (manifest: {manifest.alembic_revision})",
    )
    if revision == scratch.head:
        report.add("schema at head", True, f"{revision}")
    elif not migrate:
        report.add("schema at head", True, f"{revision}; head is {scratch.head}: run migrate")
    else:
        await scratch.migrate(scratch.url)
        async with db.open_engine(scratch.url) as engine, engine.connect() as conn:
            migrated = await db.revision(conn, scratch.version_table)
        report.add(
            "schema at head",
            migrated == scratch.head,
            f"migrated {revision} -> {migrated} (head {scratch.head})",
        )
    if store is not None and scratch.name is DatabaseName.health:
        held = await list_keys(store, raw_copy_key(prefix, f"{RAW_PREFIX}/"))
        missing = [k for k in keys if raw_copy_key(prefix, k) not in held]
        report.add(
            "raw copies",
            not missing,
            f"{len(keys) - len(missing)}/{len(keys)} raw files of completed uploads backed up"
            + (f"; missing e.g. {missing[0]}" if missing else ""),
        )


async def verify_backup(
    target: DatabaseTarget,
    store: ObjectStore,
    cfg: BackupSettings,
    *,
    manifest: Manifest | None = None,
    reporter: Reporter | None = None,
) -> VerifyReport:
    """Restore a backup into scratch space and check it; never raises for a bad backup
    (the report says what failed), and records the result in ``status.json``."""
    say = reporter or QuietReporter()
    started = time.monotonic()
    report = VerifyReport(target.name)
    try:
        chosen = manifest or await find_backup(store, cfg.prefix, target.name)
        report.dump_key = chosen.dump_key
        say.step(f"{target.name}: downloading {chosen.dump_key}")
        data = await store.get(chosen.dump_key)
        ok, detail = matches_checksum(data, chosen)
        if report.add("checksum", ok, detail):
            with tempfile.TemporaryDirectory(prefix="hp-verify-") as folder:
                dump = Path(folder) / "backup.dump"
                await asyncio.to_thread(dump.write_bytes, data)
                del data
                say.step(f"{target.name}: restoring into a scratch database")
                restore_started = time.monotonic()
                async with scratch_copy(target, chosen, dump, cfg) as scratch:
                    report.restore_seconds = time.monotonic() - restore_started
                    say.step(f"{target.name}: checking the restored copy")
                    await check_restored(scratch, chosen, report, store, cfg.prefix)
    except Exception as exc:  # a verification reports every failure, it does not crash
        log.debug("backup verification failed", exc_info=True)
        report.add("restore", False, short_error(exc))
    report.total_seconds = time.monotonic() - started
    await record_verify(store, cfg.prefix, target.name, key=report.dump_key, error=report.error)
    return report
