"""JWT signing keys: generation, JWK form, encryption at rest and rotation.

Lifecycle: ``pending`` (published in the JWKS, not yet signing) -> ``active`` (signs) ->
``retired`` (still published so tokens it signed verify until they expire) -> deleted.
:func:`rotate` advances it one step per call; a CronJob runs it (e.g. hourly).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt import PyJWK
from jwt.exceptions import PyJWKError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from healthplatform.auth import metrics
from healthplatform.auth.models import KeyState, SigningKeyRow, utcnow
from healthplatform.auth.settings import (
    LOCAL_ENVIRONMENTS,
    AuthSettings,
    SigningAlgorithm,
    decode_key_encryption_key,
)
from healthplatform.core.errors import DependencyUnavailable
from healthplatform.db.engine import create_auth_engine, create_sessionmaker

log = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
RELOAD_SECONDS = 30.0
_UNKNOWN_KID_RELOAD_SECONDS = 5.0
_ROTATION_LOCK = 7202613
_DB_ERRORS = (DBAPIError, InterfaceError, OperationalError, OSError)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    """Big-endian, minimal length (no leading zero byte), as RFC 7518 requires."""
    return b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


# --- key material ------------------------------------------------------------------------


def generate_private_key(algorithm: SigningAlgorithm) -> PrivateKey:
    if algorithm is SigningAlgorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm is SigningAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256 of the required members, sorted, no whitespace)."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(private_key: PrivateKey, algorithm: SigningAlgorithm) -> dict[str, Any]:
    """The public half as a JWK with ``kid`` (its thumbprint), ``use`` and ``alg``."""
    jwk: dict[str, Any]
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        point = private_key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(point.x.to_bytes(32, "big")),  # EC coordinates keep their full length
            "y": b64url(point.y.to_bytes(32, "big")),
        }
    else:
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    return {"kid": jwk_thumbprint(jwk), "use": "sig", "alg": algorithm.value, **jwk}


# --- encryption at rest --------------------------------------------------------------------


class KeyEncryptor:
    """AES-256-GCM with the key encryption key; the ``kid`` is authenticated data, so a
    ciphertext moved to another row does not decrypt."""

    def __init__(self, kek: bytes) -> None:
        self._aead = AESGCM(kek)
        self.kek_id = hashlib.sha256(b"hp-auth-kek-id:" + kek).hexdigest()[:16]
        self._kek = kek

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], aad)

    def derive(self, label: str) -> bytes:
        """A 32-byte secret for another purpose, derived (HKDF) from the KEK."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode())
        return hkdf.derive(self._kek)


def resolve_key_encryption_key(settings: AuthSettings) -> bytes:
    """The configured KEK; locally (only) one generated once into ``data_dir``."""
    configured = settings.key_encryption_key.get_secret_value()
    if configured:
        return decode_key_encryption_key(configured)
    if settings.environment not in LOCAL_ENVIRONMENTS:
        raise RuntimeError("HP_AUTH_KEY_ENCRYPTION_KEY is required outside local runs")
    path = settings.data_dir / "auth-kek.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key_encryption_key(path.read_text())
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode())
    return decode_key_encryption_key(path.read_text())


def _serialize(private_key: PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ValueError(f"unsupported signing key type {type(key).__name__}")
    return key


def new_key_row(
    encryptor: KeyEncryptor, algorithm: SigningAlgorithm, state: KeyState, now: datetime
) -> SigningKeyRow:
    private_key = generate_private_key(algorithm)
    jwk = public_jwk(private_key, algorithm)
    return SigningKeyRow(
        kid=jwk["kid"],
        algorithm=algorithm.value,
        state=state.value,
        public_jwk=jwk,
        private_key_encrypted=encryptor.encrypt(_serialize(private_key), jwk["kid"].encode()),
        kek_id=encryptor.kek_id,
        created_at=now,
        activated_at=now if state is KeyState.active else None,
    )


# --- the ring a running service holds -------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: PrivateKey


@dataclass
class _Snapshot:
    rows: list[SigningKeyRow] = field(default_factory=list)
    loaded_at: float = float("-inf")


class KeyRing:
    """Published keys and the active signing key, reloaded from the database every
    ``reload_seconds`` (so every replica sees a rotation); a failed reload keeps the last
    good set, so the JWKS stays available while the database is down."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        encryptor: KeyEncryptor,
        *,
        reload_seconds: float = RELOAD_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.encryptor = encryptor
        self.reload_seconds = reload_seconds
        self._snapshot = _Snapshot()
        self._private: dict[str, SigningKey] = {}
        self._public: dict[str, PyJWK] = {}
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        async with self.sessions() as session:
            rows = list((await session.scalars(select(SigningKeyRow))).all())
        self._snapshot = _Snapshot(rows, time.monotonic())
        for state in KeyState:
            metrics.SIGNING_KEYS.labels(state=state.value).set(
                sum(1 for r in rows if r.state == state.value)
            )

    async def _fresh(self, max_age: float | None = None) -> _Snapshot:
        limit = self.reload_seconds if max_age is None else max_age
        if time.monotonic() - self._snapshot.loaded_at < limit:
            return self._snapshot
        async with self._lock:
            if time.monotonic() - self._snapshot.loaded_at >= limit:
                try:
                    await self.reload()
                except _DB_ERRORS as exc:
                    if not self._snapshot.rows:
                        raise
                    log.warning("signing keys not reloaded", extra={"error": str(exc)[:300]})
        return self._snapshot

    async def jwks(self) -> dict[str, Any]:
        """Pending, active and retired public keys (active first)."""
        order = {KeyState.active: 0, KeyState.pending: 1, KeyState.retired: 2}
        rows = sorted((await self._fresh()).rows, key=lambda r: order[KeyState(r.state)])
        return {"keys": [dict(r.public_jwk) for r in rows]}

    async def signing_key(self) -> SigningKey:
        rows = (await self._fresh()).rows
        active = next((r for r in rows if r.state == KeyState.active), None)
        if active is None:
            raise DependencyUnavailable("signing key")
        cached = self._private.get(active.kid)
        if cached is None:
            try:
                der = self.encryptor.decrypt(active.private_key_encrypted, active.kid.encode())
            except InvalidTag as exc:
                log.error(
                    "signing key does not decrypt with the configured key encryption key",
                    extra={"kid": active.kid, "kek_id": active.kek_id},
                )
                raise DependencyUnavailable("signing key") from exc
            cached = SigningKey(active.kid, active.algorithm, _load(der))
            self._private[active.kid] = cached
        return cached

    async def public_key(self, kid: str) -> PyJWK | None:
        """The published key ``kid`` (for verifying this service's own tokens)."""
        snapshot = await self._fresh()
        row = next((r for r in snapshot.rows if r.kid == kid), None)
        if row is None:
            snapshot = await self._fresh(_UNKNOWN_KID_RELOAD_SECONDS)
            row = next((r for r in snapshot.rows if r.kid == kid), None)
        if row is None:
            return None
        if kid not in self._public:
            try:
                self._public[kid] = PyJWK(dict(row.public_jwk))
            except PyJWKError:
                return None
        return self._public[kid]


# --- rotation ------------------------------------------------------------------------------


@dataclass
class RotationReport:
    created: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.activated or self.retired or self.deleted)


async def rotate_keys(
    sessions: async_sessionmaker[AsyncSession],
    encryptor: KeyEncryptor,
    settings: AuthSettings,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> RotationReport:
    """One step of the lifecycle, in one transaction (serialised across replicas):

    1. delete retired keys older than ``key_retention``;
    2. no active key (first start): activate a pending key, or create an active one;
    3. a pending key published for ``key_publish_lead``: it becomes active, the active
       one retired;
    4. no pending key and the active one older than ``key_rotation_interval`` (or
       ``force``): create a pending key (published, not yet signing).
    """
    now = now or utcnow()
    report = RotationReport()
    algorithm = settings.algorithm
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(select(func.pg_advisory_xact_lock(_ROTATION_LOCK)))
        rows = list((await session.scalars(select(SigningKeyRow))).all())
        keep: list[SigningKeyRow] = []
        for row in rows:
            retired_at = row.retired_at or now
            expired = now - retired_at >= timedelta(seconds=settings.key_retention)
            if row.state == KeyState.retired and expired:
                await session.execute(delete(SigningKeyRow).where(SigningKeyRow.kid == row.kid))
                report.deleted.append(row.kid)
            else:
                keep.append(row)
        active = next((r for r in keep if r.state == KeyState.active), None)
        pending = sorted(
            (r for r in keep if r.state == KeyState.pending), key=lambda r: r.created_at
        )
        lead = timedelta(seconds=settings.key_publish_lead)
        if active is None and pending:
            pending[0].state, pending[0].activated_at = KeyState.active.value, now
            report.activated.append(pending[0].kid)
        elif active is None:
            row = new_key_row(encryptor, algorithm, KeyState.active, now)
            session.add(row)
            report.created.append(row.kid)
            report.activated.append(row.kid)
        elif pending and now - pending[0].created_at >= lead:
            active.state, active.retired_at = KeyState.retired.value, now
            await session.flush()  # one active key at a time (partial unique index)
            pending[0].state, pending[0].activated_at = KeyState.active.value, now
            report.retired.append(active.kid)
            report.activated.append(pending[0].kid)
        elif not pending:
            age = now - (active.activated_at or active.created_at)
            if force or age >= timedelta(seconds=settings.key_rotation_interval):
                row = new_key_row(encryptor, algorithm, KeyState.pending, now)
                session.add(row)
                report.created.append(row.kid)
    if report.changed:
        log.info("signing keys rotated", extra={"report": report.__dict__})
    return report


async def ensure_active_key(
    sessions: async_sessionmaker[AsyncSession], encryptor: KeyEncryptor, settings: AuthSettings
) -> None:
    """Create the first signing key on a fresh database (idempotent, replica-safe)."""
    async with sessions() as session:
        active = await session.scalar(
            select(SigningKeyRow.kid).where(SigningKeyRow.state == KeyState.active.value)
        )
    if active is None:
        await rotate_keys(sessions, encryptor, settings)


async def rotate(
    settings: AuthSettings, *, force: bool = False, now: datetime | None = None
) -> RotationReport:
    """Advance the key lifecycle one step (the CLI / CronJob entry point)."""
    engine = create_auth_engine(settings, application_name="healthplatform-auth-rotate")
    try:
        encryptor = KeyEncryptor(resolve_key_encryption_key(settings))
        return await rotate_keys(
            create_sessionmaker(engine), encryptor, settings, now=now, force=force
        )
    finally:
        await engine.dispose()


def rotate_sync(settings: AuthSettings, *, force: bool = False) -> RotationReport:
    return asyncio.run(rotate(settings, force=force))
