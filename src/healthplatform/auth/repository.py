"""Queries of the auth database. Functions take the caller's session (the service owns
the transaction boundaries)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.auth.models import (
    Credential,
    DeviceSession,
    EndedSession,
    RefreshToken,
    User,
)

# --- users -----------------------------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result: User | None = await session.scalar(select(User).where(User.username == username))
    return result


# --- credentials (passkeys) ------------------------------------------------------------------


async def list_credentials(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Credential]:
    query = select(Credential).where(Credential.user_id == user_id).order_by(Credential.created_at)
    return (await session.scalars(query)).all()


async def count_credentials(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Credential).where(Credential.user_id == user_id)
    return int(await session.scalar(query) or 0)


async def get_credential(session: AsyncSession, credential_id: bytes) -> Credential | None:
    query = select(Credential).where(Credential.credential_id == credential_id)
    result: Credential | None = await session.scalar(query)
    return result


async def advance_sign_count(
    session: AsyncSession, pk: uuid.UUID, *, expected: int, new: int, now: datetime
) -> bool:
    """Compare-and-set of the signature counter: ``False`` when another login moved it."""
    result = await session.execute(
        update(Credential)
        .where(Credential.id == pk, Credential.sign_count == expected)
        .values(sign_count=new, last_used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_credential(session: AsyncSession, user_id: uuid.UUID, pk: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Credential).where(Credential.id == pk, Credential.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- device sessions (refresh-token families) -------------------------------------------------


async def get_device_session(session: AsyncSession, sid: uuid.UUID) -> DeviceSession | None:
    return await session.get(DeviceSession, sid)


async def list_device_sessions(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> Sequence[DeviceSession]:
    query = (
        select(DeviceSession)
        .where(
            DeviceSession.user_id == user_id,
            DeviceSession.revoked_at.is_(None),
            DeviceSession.expires_at > now,
        )
        .order_by(DeviceSession.last_used_at.desc())
    )
    return (await session.scalars(query)).all()


async def revoke_device_session(
    session: AsyncSession,
    sid: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> bool:
    query = update(DeviceSession).where(DeviceSession.id == sid, DeviceSession.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(DeviceSession.user_id == user_id)
    result = await session.execute(query.values(revoked_at=now, revoke_reason=reason))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_sessions_of_credential(
    session: AsyncSession, credential_pk: uuid.UUID, *, reason: str, now: datetime
) -> int:
    result = await session.execute(
        update(DeviceSession)
        .where(DeviceSession.credential_pk == credential_pk, DeviceSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- refresh tokens --------------------------------------------------------------------------


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.get(RefreshToken, token_hash)


async def mark_refresh_token_used(session: AsyncSession, token_hash: str, now: datetime) -> bool:
    """Atomically consume a refresh token: ``False`` when it was used already (reuse)."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_device_sessions(session: AsyncSession, now: datetime, grace: timedelta) -> int:
    """Delete sessions expired or revoked more than ``grace`` ago (their tokens cascade)."""
    cutoff = now - grace
    result = await session.execute(
        delete(DeviceSession).where(
            or_(DeviceSession.expires_at < cutoff, DeviceSession.revoked_at < cutoff)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- account deletion ------------------------------------------------------------------------


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user row, locked until the transaction ends (a login that would add a device
    session waits for it; a no-op on SQLite, whose writers are serialised anyway)."""
    result: User | None = await session.scalar(
        select(User).where(User.id == user_id).with_for_update()
    )
    return result


async def device_session_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Every device session of the user, revoked or not."""
    rows = await session.scalars(select(DeviceSession.id).where(DeviceSession.user_id == user_id))
    return list(rows)


async def delete_user_rows(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user and every row keyed to them, children first (no reliance on the
    foreign keys' ``ON DELETE CASCADE``, which SQLite applies only when asked to)."""
    sessions_of_user = select(DeviceSession.id).where(DeviceSession.user_id == user_id)
    await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(sessions_of_user)))
    await session.execute(delete(DeviceSession).where(DeviceSession.user_id == user_id))
    await session.execute(delete(Credential).where(Credential.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))


async def add_ended_sessions(
    session: AsyncSession, session_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    session.add_all(EndedSession(session_id=sid, ended_at=now) for sid in session_ids)


async def purge_ended_sessions(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(EndedSession).where(EndedSession.ended_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
