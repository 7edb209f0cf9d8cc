"""Which stored backups to keep: the newest N daily and M weekly per database.

Pure functions over the keys of the backup store, so the policy is tested without a store.
A dump without its manifest (a run that died between the two uploads) is incomplete: it is
never restored and is deleted once older than a grace period, as is a manifest whose dump
is gone. The newest complete backup of a database is always kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from healthplatform.ops.backups.store import (
    DUMP_SUFFIX,
    MANIFEST_SUFFIX,
    OBJECTS_SUFFIX,
    Kind,
    parse_stamp,
)

INCOMPLETE_GRACE = timedelta(days=1)
_SUFFIXES = (DUMP_SUFFIX, MANIFEST_SUFFIX, OBJECTS_SUFFIX)


@dataclass(frozen=True)
class StoredBackup:
    database: str
    kind: str
    stamp: str
    taken_at: datetime
    keys: tuple[str, ...]  # every stored object of this backup

    @property
    def complete(self) -> bool:
        return any(k.endswith(DUMP_SUFFIX) for k in self.keys) and any(
            k.endswith(MANIFEST_SUFFIX) for k in self.keys
        )


def group_backups(keys: Iterable[str], prefix: str) -> list[StoredBackup]:
    """Backups found among ``keys`` (``<prefix><db>/<kind>/<stamp><suffix>``), oldest first;
    other keys are ignored."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for key in keys:
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] not in Kind.__members__:
            continue
        suffix = next((s for s in _SUFFIXES if parts[2].endswith(s)), None)
        if suffix is None:
            continue
        found.setdefault((parts[0], parts[1], parts[2].removesuffix(suffix)), []).append(key)
    backups = []
    for (database, kind, stamp), members in found.items():
        try:
            taken = parse_stamp(stamp)
        except ValueError:
            continue
        backups.append(StoredBackup(database, kind, stamp, taken, tuple(sorted(members))))
    return sorted(backups, key=lambda b: (b.taken_at, b.database, b.kind))


def expired(
    backups: Iterable[StoredBackup],
    keep: dict[str, int],
    now: datetime,
    grace: timedelta = INCOMPLETE_GRACE,
) -> list[StoredBackup]:
    """The backups to delete under the policy ``keep`` (kind -> how many to keep)."""
    items = list(backups)
    newest_complete: dict[str, StoredBackup] = {}
    for backup in items:
        if backup.complete:
            newest = newest_complete.get(backup.database)
            if newest is None or backup.taken_at > newest.taken_at:
                newest_complete[backup.database] = backup
    doomed = []
    seen: dict[tuple[str, str], int] = {}
    for backup in sorted(items, key=lambda b: b.taken_at, reverse=True):
        if not backup.complete:
            if now - backup.taken_at > grace:
                doomed.append(backup)
            continue
        slot = (backup.database, backup.kind)
        seen[slot] = seen.get(slot, 0) + 1
        if seen[slot] > keep.get(backup.kind, 0) and newest_complete[backup.database] != backup:
            doomed.append(backup)
    return sorted(doomed, key=lambda b: b.taken_at)
