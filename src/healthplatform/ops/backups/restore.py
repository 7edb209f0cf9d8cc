"""`healthplatform backup restore`: put a database (and the data lake) back from backups.

Database: the dump's checksum is checked, the target database created when it is missing
(PostgreSQL) or refused when it holds tables unless ``replace``, the dump restored in one
transaction, and the result checked against the manifest. Health database, afterwards:
the erasure log is applied first (:mod:`healthplatform.me.erasure_log`: people erased
after the backup was taken are removed again, rows and objects), uploads left
``queued``/``processing`` get a new outbox event (the broker may have lost theirs), raw
files the restored rows reference are copied back from the backup store when the lake
lacks them, and missing training examples are rebuilt from the restored rows.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.core.progress import QuietReporter, Reporter
from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.etl.narratives import Narrative as NarrativeText
from healthplatform.etl.training import training_example
from healthplatform.me import erasure_log
from healthplatform.ops.backups import db as db
from healthplatform.ops.backups.db import DatabaseTarget
from healthplatform.ops.backups.manifest import FORMAT_PG, FORMAT_SQLITE, Manifest
from healthplatform.ops.backups.pg import find_tool, libpq_target, pg_restore
from healthplatform.ops.backups.raw import CopyResult, list_keys, restore_raw_objects
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.ops.backups.sqlite import sqlite_install
from healthplatform.ops.backups.verify import VerifyReport, check_restored, matches_checksum
from healthplatform.storage import ObjectStore
from healthplatform.storage.layout import TRAINING_PREFIX
from healthplatform.uploads import repository as uploads


class RestoreError(Exception):
    """The restore was refused or failed; nothing was changed unless the message says so."""


@dataclass
class TrainingResult:
    rebuilt: int = 0
    present: int = 0
    stale: int = 0  # the example made now differs from the stored key: run `reprocess`


@dataclass
class RestoreReport:
    database: str
    manifest: Manifest
    created_database: bool = False
    replaced: bool = False
    seconds: float = 0.0
    checks: VerifyReport | None = None
    requeued: int = 0
    raw: CopyResult | None = None
    training: TrainingResult | None = None
    erased: erasure_log.Applied | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        raw_ok = self.raw is None or not (self.raw.missing or self.raw.corrupt)
        return bool(self.checks and self.checks.ok) and raw_ok


async def _prepare_postgres(target: DatabaseTarget, cfg: BackupSettings, replace: bool) -> str:
    """Make the target database exist and be empty; what was done."""
    name = target.database_name
    if not await db.database_exists(target, cfg.maintenance_database, name):
        try:
            await db.create_database(target, cfg.maintenance_database, name)
        except Exception as exc:
            raise RestoreError(
                f"database {name} does not exist and cannot be created ({exc}); create it "
                "(CloudNativePG: a new Cluster bootstraps it) or grant the role CREATEDB"
            ) from exc
        return "created"
    async with db.open_engine(target.url) as engine, engine.begin() as conn:
        tables = await db.table_names(conn)
        if not tables:
            return "empty"
        if not replace:
            raise RestoreError(
                f"database {name} is not empty ({len(tables)} tables); pass --replace to "
                "drop its contents first (stop the services that use it)"
            )
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    return "replaced"


async def _prepare_sqlite(target: DatabaseTarget, replace: bool) -> str:
    path = target.sqlite_path
    if not path.exists():
        return "created"
    async with db.open_engine(target.url) as engine, engine.connect() as conn:
        tables = await db.table_names(conn)
    if tables and not replace:
        raise RestoreError(
            f"{path} is not empty ({len(tables)} tables); pass --replace to overwrite it "
            "(stop `healthplatform up` first)"
        )
    return "replaced" if tables else "empty"


async def restore_database(
    target: DatabaseTarget,
    store: ObjectStore,
    cfg: BackupSettings,
    manifest: Manifest,
    *,
    replace: bool = False,
    reporter: Reporter | None = None,
) -> RestoreReport:
    """Restore ``manifest``'s dump into ``target`` and check it against the manifest."""
    say = reporter or QuietReporter()
    started = time.monotonic()
    report = RestoreReport(target.name, manifest)
    expected = FORMAT_SQLITE if target.is_sqlite else FORMAT_PG
    if manifest.format != expected:
        raise RestoreError(f"a {manifest.format} backup cannot be restored into this database")
    say.step(f"{target.name}: downloading {manifest.dump_key}")
    data = await store.get(manifest.dump_key)
    ok, detail = matches_checksum(data, manifest)
    if not ok:
        raise RestoreError(f"{manifest.dump_key} is corrupted ({detail}); pick another backup")
    with tempfile.TemporaryDirectory(prefix="hp-restore-") as folder:
        dump = Path(folder) / "backup.dump"
        await asyncio.to_thread(dump.write_bytes, data)
        del data
        if target.is_sqlite:
            state = await _prepare_sqlite(target, replace)
            say.step(f"{target.name}: installing the database file")
            await asyncio.to_thread(sqlite_install, dump, target.sqlite_path)
        else:
            state = await _prepare_postgres(target, cfg, replace)
            say.step(f"{target.name}: pg_restore into {target.database_name} ({state})")
            tool = find_tool("pg_restore", cfg.pg_bin_dir)
            await pg_restore(
                tool, libpq_target(target.url), dump, time_limit=cfg.command_timeout_seconds
            )
    report.created_database, report.replaced = state == "created", state == "replaced"
    say.step(f"{target.name}: checking the restored database")
    report.checks = VerifyReport(target.name, manifest.dump_key)
    await check_restored(target, manifest, report.checks, migrate=False)
    report.seconds = time.monotonic() - started
    return report


async def requeue_unfinished(engine: AsyncEngine) -> int:
    """New outbox events for uploads the restored database shows queued or processing."""
    async with engine.begin() as conn:
        rows = await uploads.unfinished(conn)
        return await uploads.requeue(conn, rows, uploads.BUSY, "restore")


async def referenced_raw_keys(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(Upload.object_key))).scalars())


async def rebuild_training(engine: AsyncEngine, lake: ObjectStore) -> TrainingResult:
    """Write back every training example a restored daily row names and the lake lacks,
    rebuilt from the row and its journal narrative (the key is content-addressed, so a
    rebuilt example is exactly the lost one or is reported as stale)."""
    present = await list_keys(lake, f"{TRAINING_PREFIX}/")
    result = TrainingResult()
    days_table, narratives = DailyMetrics.__table__, Narrative.__table__
    async with engine.connect() as conn:
        days = await conn.execute(select(days_table).where(days_table.c.training_key.is_not(None)))
        wanted: dict[str, list[Row[Any]]] = defaultdict(list)
        for row in days:
            if row.training_key in present:
                result.present += 1
            else:
                wanted[row.user_id].append(row)
        for user, rows in wanted.items():
            daily = select(narratives).where(
                narratives.c.user_id == user, narratives.c.kind == "daily"
            )
            journals = {n.local_date: n for n in await conn.execute(daily)}
            for row in rows:
                journal = journals.get(row.local_date)
                if journal is None:
                    result.stale += 1
                    continue
                provenance = row.provenance or {}
                key, body = training_example(
                    user,
                    row.local_date,
                    row.metrics,
                    NarrativeText.from_json(journal.sections or [], journal.claims or []),
                    upload_ids=sorted({u for p in provenance.values() for u in p["uploads"]}),
                    record_ids=sorted({r for p in provenance.values() for r in p["records"]}),
                    version=row.definitions_version,
                )
                if key != row.training_key:
                    result.stale += 1
                    continue
                await lake.put(key, body, "application/json")
                result.rebuilt += 1
    return result


async def after_health_restore(
    target: DatabaseTarget,
    store: ObjectStore,
    lake: ObjectStore,
    cfg: BackupSettings,
    report: RestoreReport,
    *,
    objects: bool = True,
    reporter: Reporter | None = None,
    erasures: list[erasure_log.Erasure] | None = None,
) -> None:
    """Apply the erasure log (people erased after the backup was taken are removed again:
    rows, lake objects, raw copies), re-queue unfinished uploads, then (``objects``) bring
    back the raw files the restored rows reference and rebuild the lost training examples."""
    say = reporter or QuietReporter()
    async with db.open_engine(target.url) as engine:
        erased = erasure_log.due(erasures or [], report.manifest.started_at)
        say.step(f"health: applying the erasure log ({len(erased)} people erased since)")
        report.erased = await erasure_log.apply(
            engine, lake, erased, backup_store=store, backup_prefix=cfg.prefix
        )
        report.requeued = await requeue_unfinished(engine)
        if not objects:
            return
        bar = say.bar("raw uploads -> data lake")
        report.raw = await restore_raw_objects(
            lake,
            store,
            cfg.prefix,
            await referenced_raw_keys(engine),
            concurrency=cfg.copy_concurrency,
            on_total=bar.total,
            advance=bar.advance,
        )
        say.step("health: rebuilding lost training examples")
        report.training = await rebuild_training(engine, lake)
    if report.raw.missing:
        report.notes.append(
            f"{len(report.raw.missing)} raw files are in neither the lake nor the backups "
            "(their derived data is restored, but they cannot be reprocessed)"
        )
    if report.training.stale:
        report.notes.append(
            f"{report.training.stale} training examples could not be rebuilt exactly: run "
            "`healthplatform reprocess --all`"
        )
