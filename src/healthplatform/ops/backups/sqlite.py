"""SQLite (local runs): online backup API instead of pg_dump, atomic file replace to restore."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path


class SqliteBackupError(Exception):
    """The SQLite database is missing or damaged."""


def sqlite_copy(source: Path, out: Path) -> None:
    """A consistent copy of a live database (the backup API copies pages under a read
    lock, retrying if a writer interferes); the copy is self-contained (no WAL)."""
    if not source.is_file():
        raise SqliteBackupError(f"no SQLite database at {source}")
    with (
        contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
        contextlib.closing(sqlite3.connect(out)) as dst,
    ):
        src.backup(dst)
        integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
        dst.execute("PRAGMA journal_mode=DELETE")
    if integrity != "ok":
        raise SqliteBackupError(f"integrity check of the copy failed: {integrity}")


def sqlite_integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def sqlite_install(dump: Path, target: Path) -> None:
    """Replace ``target`` with ``dump`` atomically (the app must be stopped): the copy is
    written next to it, synced, the old WAL files removed, then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, staging)
    with staging.open("rb") as fh:
        os.fsync(fh.fileno())
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(staging, target)
