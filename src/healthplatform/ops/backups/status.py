"""The last backup and verification results, kept as ``<prefix>status.json`` in the backup
store (the CronJobs that produce them are short-lived), and the Prometheus gauges a
long-running service exports from it."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client import Gauge

from healthplatform.ops.backups.store import DatabaseName, status_key
from healthplatform.storage import ObjectStore
from healthplatform.storage.base import ObjectNotFound

log = logging.getLogger(__name__)
LAST_SUCCESS = Gauge(
    "hp_backup_last_success_timestamp_seconds",
    "Finish time of the newest successful logical backup (0: none).",
    ["database"],
)
LAST_VERIFY_SUCCESS = Gauge(
    "hp_backup_last_verify_success_timestamp_seconds",
    "Finish time of the newest successful restore verification (0: none).",
    ["database"],
)
LAST_VERIFY_OK = Gauge(
    "hp_backup_last_verify_ok",
    "1 when the newest restore verification passed, 0 when it failed or never ran.",
    ["database"],
)
STORED_BYTES = Gauge(
    "hp_backup_stored_bytes",
    "Bytes under the backup prefix at the last backup (dumps, manifests, raw copies).",
)


@dataclass
class DatabaseStatus:
    last_backup_at: float | None = None
    last_backup_ok: bool | None = None
    last_backup_key: str | None = None
    last_backup_error: str | None = None
    last_success_at: float | None = None
    last_verify_at: float | None = None
    last_verify_ok: bool | None = None
    last_verify_key: str | None = None
    last_verify_error: str | None = None
    last_verify_success_at: float | None = None


@dataclass
class BackupStatus:
    databases: dict[str, DatabaseStatus] = field(default_factory=dict)
    stored_bytes: int | None = None
    raw_objects: int | None = None
    updated_at: float | None = None

    def database(self, name: str) -> DatabaseStatus:
        return self.databases.setdefault(name, DatabaseStatus())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BackupStatus:
        body: dict[str, Any] = json.loads(data)
        known = set(DatabaseStatus.__dataclass_fields__)
        return cls(
            databases={
                str(name): DatabaseStatus(**{k: v for k, v in values.items() if k in known})
                for name, values in (body.get("databases") or {}).items()
            },
            stored_bytes=body.get("stored_bytes"),
            raw_objects=body.get("raw_objects"),
            updated_at=body.get("updated_at"),
        )


async def read_status(store: ObjectStore, prefix: str) -> BackupStatus:
    """The recorded status; empty when there is none yet or it cannot be read (then every
    gauge reads 0 and the alerts fire, and the next result rewrites it)."""
    try:
        return BackupStatus.from_json(await store.get(status_key(prefix)))
    except ObjectNotFound:
        return BackupStatus()
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("unreadable backup status", extra={"error": str(exc)[:300]})
        return BackupStatus()


async def record_backup(
    store: ObjectStore,
    prefix: str,
    database: str,
    *,
    key: str | None,
    error: str | None,
    usage: tuple[int, int] | None = None,
) -> BackupStatus:
    """Merge one backup result (and the bytes and raw copies stored) into the status object
    (read-modify-write: the backup and verify CronJobs are scheduled apart)."""
    status = await read_status(store, prefix)
    if usage is not None:
        status.stored_bytes, status.raw_objects = usage
    entry = status.database(database)
    now = time.time()
    entry.last_backup_at, entry.last_backup_ok = now, error is None
    entry.last_backup_key, entry.last_backup_error = key, error
    if error is None:
        entry.last_success_at = now
    status.updated_at = now
    await store.put(status_key(prefix), status.to_json(), "application/json")
    return status


async def record_verify(
    store: ObjectStore, prefix: str, database: str, *, key: str | None, error: str | None
) -> BackupStatus:
    status = await read_status(store, prefix)
    entry = status.database(database)
    now = time.time()
    entry.last_verify_at, entry.last_verify_ok = now, error is None
    entry.last_verify_key, entry.last_verify_error = key, error
    if error is None:
        entry.last_verify_success_at = now
    status.updated_at = now
    await store.put(status_key(prefix), status.to_json(), "application/json")
    return status


async def export_status_metrics(store: ObjectStore, prefix: str = "backups/") -> BackupStatus:
    """Read ``status.json`` and set the ``hp_backup_*`` gauges (both databases are always
    exported, as 0 when they were never backed up, so a missing backup alerts)."""
    status = await read_status(store, prefix)
    names = sorted({*(d.value for d in DatabaseName), *status.databases})
    for name in names:
        entry = status.databases.get(name, DatabaseStatus())
        LAST_SUCCESS.labels(database=name).set(entry.last_success_at or 0)
        LAST_VERIFY_SUCCESS.labels(database=name).set(entry.last_verify_success_at or 0)
        LAST_VERIFY_OK.labels(database=name).set(1 if entry.last_verify_ok else 0)
    if status.stored_bytes is not None:
        STORED_BYTES.set(status.stored_bytes)
    return status
