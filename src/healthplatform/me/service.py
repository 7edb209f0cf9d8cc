"""Erasing everything the platform holds about a user."""

from __future__ import annotations

from dataclasses import dataclass

from healthplatform.db.engine import transaction
from healthplatform.runtime import Resources
from healthplatform.uploads.repository import UploadRepository
from healthplatform.uploads.service import RAW_PREFIX, user_key

# Every object prefix that holds per-user data; derived data registers its prefix here.
USER_PREFIXES = [RAW_PREFIX]


@dataclass(frozen=True)
class Erased:
    uploads_deleted: int
    objects_deleted: int


async def erase_user_data(res: Resources, subject: str) -> Erased:
    user = user_key(subject)
    async with transaction(res.sessions) as session:
        uploads = await UploadRepository(session).delete_for_user(user)
    objects = 0
    for prefix in USER_PREFIXES:
        objects += await res.store.delete_prefix(f"{prefix}/{user}/")
    return Erased(uploads, objects)
