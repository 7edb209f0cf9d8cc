"""Erasing everything the platform holds about a user."""

from __future__ import annotations

from dataclasses import dataclass

from healthplatform.etl import repository as etl_repository
from healthplatform.etl.training import TRAINING_PREFIX
from healthplatform.me import erasure_log
from healthplatform.runtime import Resources
from healthplatform.uploads.repository import UploadRepository
from healthplatform.uploads.service import RAW_PREFIX, user_key

# Every object prefix that holds per-user data.
USER_PREFIXES = [RAW_PREFIX, TRAINING_PREFIX]


@dataclass(frozen=True)
class Erased:
    uploads_deleted: int
    derived_rows_deleted: int
    objects_deleted: int


async def erase_user_data(res: Resources, subject: str) -> Erased:
    user = user_key(subject)
    async with erasure_log.open_log(res.settings, res.store) as log:
        await erasure_log.record(log, user)  # first: a restore of an older backup honours it
    async with res.engine.begin() as conn:
        await etl_repository.lock_user(conn, user)  # waits for in-flight processing
        derived = await etl_repository.delete_user(conn, user)
        uploads = await UploadRepository.delete_for_user_conn(conn, user)
    objects = 0
    for prefix in USER_PREFIXES:
        objects += await res.store.delete_prefix(f"{prefix}/{user}/")
    return Erased(uploads, derived, objects)
