"""Tables of the auth database (its own metadata, migrations and version table)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from healthplatform.db.models import UTCDateTime, utcnow

__all__ = [
    "AuthBase",
    "Credential",
    "DeviceSession",
    "EndedSession",
    "KeyState",
    "RefreshToken",
    "SigningKeyRow",
    "User",
    "utcnow",
]


class AuthBase(DeclarativeBase):
    pass


class KeyState(StrEnum):
    pending = "pending"
    active = "active"
    retired = "retired"


class User(AuthBase):
    """An account. ``id`` is the token ``sub``; ``user_handle`` is the random WebAuthn
    user id given to authenticators (neither is derived from the username)."""

    __tablename__ = "auth_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # UTS #39 confusables skeleton of the username (healthplatform.auth.usernames)
    username_skeleton: Mapped[str | None] = mapped_column(String(512), index=True)
    display_name: Mapped[str] = mapped_column(String(128))
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Credential(AuthBase):
    """One passkey: public key (COSE), signature counter and metadata."""

    __tablename__ = "auth_credentials"
    __table_args__ = (Index("ix_auth_credentials_user", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_users.id", ondelete="CASCADE"))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36))
    device_type: Mapped[str] = mapped_column(String(16))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeviceSession(AuthBase):
    """A refresh-token family: one signed-in device. Revoking it ends every token of it."""

    __tablename__ = "auth_device_sessions"
    __table_args__ = (Index("ix_auth_device_sessions_user", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_users.id", ondelete="CASCADE"))
    credential_pk: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("auth_credentials.id", ondelete="SET NULL"), nullable=True
    )
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RefreshToken(AuthBase):
    """One refresh token, stored as its SHA-256. ``used_at`` is set when it is rotated;
    presenting a used token again revokes its family."""

    __tablename__ = "auth_refresh_tokens"
    __table_args__ = (Index("ix_auth_refresh_tokens_session", "session_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_device_sessions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EndedSession(AuthBase):
    """The id of a device session deleted with its account, kept while a token of it could
    still be valid so that the revocation list can be published again (a restarted local
    run, an emptied Valkey). A random id and a time: nothing links it to the user."""

    __tablename__ = "auth_ended_sessions"
    __table_args__ = (Index("ix_auth_ended_sessions_ended_at", "ended_at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SigningKeyRow(AuthBase):
    """A JWT signing key: public JWK in clear, private key AES-GCM encrypted."""

    __tablename__ = "auth_signing_keys"
    __table_args__ = (
        CheckConstraint("state IN ('pending','active','retired')", name="ck_auth_keys_state"),
        Index(
            "uq_auth_keys_one_active",
            "state",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
