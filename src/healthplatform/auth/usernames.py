"""Look-alike usernames: a new name is refused when its UTS #39 confusables *skeleton*
equals the skeleton of an existing one (``alice`` spelt with a Cyrillic ``a`` against the Latin one,
``rn`` against ``m``). The skeleton comes from ICU's SpoofChecker (pinned
``pyicu-wheels``, which bundles ICU and its Unicode confusables data); usernames are
already NFKC-normalised and lower-cased by the wire models.

Skeletons are stored (``auth_users.username_skeleton``) and compared with one indexed
query. A new ICU version may change skeletons: ``healthplatform auth maintain`` recomputes
every stored one, and fills those of accounts made before the column existed.
"""

from __future__ import annotations

import functools

import icu
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.auth.models import User

SKELETON_MAX_CHARS = 512


@functools.cache
def _checker() -> icu.SpoofChecker:
    return icu.SpoofChecker()


def skeleton(username: str) -> str:
    """The confusables skeleton of ``username`` (ICU ``getSkeleton``)."""
    result: str = _checker().getSkeleton(0, username)
    return result[:SKELETON_MAX_CHARS]


async def look_alike_taken(session: AsyncSession, username: str) -> bool:
    """True when an account's username is ``username`` or looks like it."""
    query = select(User.id).where(
        (User.username_skeleton == skeleton(username)) | (User.username == username)
    )
    return (await session.scalar(query.limit(1))) is not None


async def refresh_skeletons(session: AsyncSession) -> int:
    """Recompute stored skeletons that are missing or differ (after an ICU upgrade)."""
    changed = 0
    rows = (await session.execute(select(User.id, User.username, User.username_skeleton))).all()
    for user_id, username, stored in rows:
        current = skeleton(username)
        if current != stored:
            await session.execute(
                update(User).where(User.id == user_id).values(username_skeleton=current)
            )
            changed += 1
    return changed
