"""Copies of the raw uploads (the source of truth) between the data lake and the backup
store. Keys are content addressed (``raw/<user>/<type>/<yyyy>/<mm>/<dd>/<sha256>.avro``),
so a copy is never updated: new objects are copied, existing ones skipped, and every byte
moved is checked against the SHA-256 in its key."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from healthplatform.ops.backups.store import raw_copy_key
from healthplatform.storage import ObjectStore
from healthplatform.storage.base import ObjectNotFound
from healthplatform.storage.layout import RAW_PREFIX

Advance = Callable[[int], None]


def _no_progress(_: int) -> None:
    return None


def expected_sha256(key: str) -> str | None:
    """The SHA-256 a raw key names (its file name), or None for keys without one."""
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return name if len(name) == 64 and all(c in "0123456789abcdef" for c in name) else None


def intact(key: str, data: bytes) -> bool:
    expected = expected_sha256(key)
    return expected is None or hashlib.sha256(data).hexdigest() == expected


@dataclass
class CopyResult:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    corrupt: list[str] = field(default_factory=list)  # content does not match its key
    missing: list[str] = field(default_factory=list)  # in neither place

    @property
    def total(self) -> int:
        return self.copied + self.skipped + len(self.corrupt) + len(self.missing)


async def _bounded(jobs: Iterable[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with slots:
            await job()

    async with asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(run(job))


async def list_keys(store: ObjectStore, prefix: str) -> set[str]:
    return {info.key async for info in store.list(prefix)}


async def backup_raw_objects(
    lake: ObjectStore,
    backups: ObjectStore,
    prefix: str,
    *,
    concurrency: int = 8,
    lake_keys: set[str] | None = None,
    on_total: Callable[[int], None] | None = None,
    advance: Advance = _no_progress,
) -> CopyResult:
    """Copy every ``raw/`` object of the lake that the backup store does not hold yet."""
    source = lake_keys if lake_keys is not None else await list_keys(lake, f"{RAW_PREFIX}/")
    held = await list_keys(backups, raw_copy_key(prefix, f"{RAW_PREFIX}/"))
    todo = sorted(k for k in source if raw_copy_key(prefix, k) not in held)
    result = CopyResult(skipped=len(source) - len(todo))
    if on_total:
        on_total(len(todo))

    # a lake object may be erased or swept since the listing: counted missing
    jobs = (_copy_job(lake, k, backups, raw_copy_key(prefix, k), k, result, advance) for k in todo)
    await _bounded(jobs, concurrency)
    return result


async def restore_raw_objects(
    lake: ObjectStore,
    backups: ObjectStore,
    prefix: str,
    keys: Iterable[str],
    *,
    concurrency: int = 8,
    on_total: Callable[[int], None] | None = None,
    advance: Advance = _no_progress,
) -> CopyResult:
    """Put back into the lake every one of ``keys`` (the objects the restored database
    references) that the lake lacks, from the backup store."""
    wanted = sorted(set(keys))
    present = await list_keys(lake, f"{RAW_PREFIX}/")
    todo = [k for k in wanted if k not in present]
    result = CopyResult(skipped=len(wanted) - len(todo))
    if on_total:
        on_total(len(todo))

    jobs = (_copy_job(backups, raw_copy_key(prefix, k), lake, k, k, result, advance) for k in todo)
    await _bounded(jobs, concurrency)
    return result


def _copy_job(
    source: ObjectStore,
    source_key: str,
    target: ObjectStore,
    target_key: str,
    lake_key: str,
    result: CopyResult,
    advance: Advance,
) -> Callable[[], Awaitable[None]]:
    """Copy one raw upload if its bytes still match the SHA-256 in its lake key; a missing
    or corrupt source is recorded in ``result`` under the lake key."""

    async def copy() -> None:
        try:
            data = await source.get(source_key)
        except ObjectNotFound:
            result.missing.append(lake_key)
        else:
            if intact(lake_key, data):
                await target.put(target_key, data, "avro/binary")
                result.copied += 1
                result.bytes_copied += len(data)
            else:
                result.corrupt.append(lake_key)
        advance(1)

    return copy


def encode_key_list(keys: Iterable[str]) -> bytes:
    return gzip.compress("\n".join(sorted(keys)).encode(), mtime=0)


def decode_key_list(data: bytes) -> set[str]:
    return {line for line in gzip.decompress(data).decode().splitlines() if line}


async def prune_raw_copies(
    backups: ObjectStore, prefix: str, keep: set[str], held: set[str] | None = None
) -> int:
    """Delete raw copies that no retained backup references and the lake no longer holds
    (``keep``: lake keys): erased users' files leave the backups with the last backup
    that contained them."""
    copies = held if held is not None else await list_keys(backups, raw_copy_key(prefix, "raw/"))
    doomed = [c for c in sorted(copies) if c[len(prefix) :] not in keep]
    for key in doomed:
        await backups.delete(key)
    return len(doomed)
