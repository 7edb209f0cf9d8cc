"""Decoy login options for a username that has no account, shaped like a real account's:
one or two credential descriptors with the transports and id lengths real passkeys have,
all derived from a keyed hash of the name (stable across requests, so repeating the
request reveals nothing either)."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

from healthplatform.auth.models import Credential, User

T = AuthenticatorTransport
# transports as browsers and phones report them for passkeys and security keys
TRANSPORT_SETS: tuple[tuple[AuthenticatorTransport, ...], ...] = (
    (T.HYBRID, T.INTERNAL),
    (T.HYBRID, T.INTERNAL),
    (T.INTERNAL,),
    (T.NFC, T.USB),
)
ID_LENGTHS = (16, 20, 32, 32)  # Android, Apple, Windows Hello / most authenticators


_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}


async def login_descriptors(
    session: AsyncSession, username: str
) -> tuple[uuid.UUID | None, list[PublicKeyCredentialDescriptor]]:
    """The account's id and credential descriptors, in one query that costs the same for a
    known and an unknown name (plain rows, no ORM objects: nothing to time)."""
    query = (
        select(User.id, Credential.credential_id, Credential.transports)
        .join(Credential, Credential.user_id == User.id)
        .where(User.username == username)
        .order_by(Credential.created_at)
    )
    rows = (await session.execute(query)).all()
    descriptors = [
        PublicKeyCredentialDescriptor(
            id=credential_id,
            transports=[_TRANSPORTS[t] for t in transports if t in _TRANSPORTS] or None,
        )
        for _, credential_id, transports in rows
    ]
    return (rows[0][0] if rows else None), descriptors


def decoy_descriptors(seed: bytes) -> list[PublicKeyCredentialDescriptor]:
    """One or two descriptors derived from ``seed`` (a secret-keyed hash of the name)."""
    stream = hashlib.shake_256(seed).digest(2 + 2 * 64)
    count = 1 + stream[0] % 2
    result = []
    for i in range(count):
        chunk = stream[2 + i * 64 : 2 + (i + 1) * 64]
        length = ID_LENGTHS[chunk[0] % len(ID_LENGTHS)]
        transports = TRANSPORT_SETS[chunk[1] % len(TRANSPORT_SETS)]
        result.append(
            PublicKeyCredentialDescriptor(id=chunk[2 : 2 + length], transports=list(transports))
        )
    return result
