"""Settings of the passkey auth service, read from ``HP_AUTH_*`` environment variables.

The defaults run locally (SQLite in ``data_dir/auth.db``, challenges in memory, a key
encryption key generated into ``data_dir``); production sets the database and Redis URLs,
the relying party, the allowed origins and ``HP_AUTH_KEY_ENCRYPTION_KEY`` (a Kubernetes
Secret).
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from healthplatform.core import config_docs
from healthplatform.core.cors import normalise_origin

ENV_PREFIX = "HP_AUTH_"
ANDROID_ORIGIN_PREFIX = "android:apk-key-hash:"
LOCAL_ENVIRONMENTS = frozenset({"local"})
_FINGERPRINT = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){31}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]{43}$")


class UserVerification(StrEnum):
    required = "required"
    preferred = "preferred"
    discouraged = "discouraged"


class ResidentKey(StrEnum):
    required = "required"
    preferred = "preferred"


class SigningAlgorithm(StrEnum):
    RS256 = "RS256"
    ES256 = "ES256"
    EdDSA = "EdDSA"


def decode_key_encryption_key(value: str) -> bytes:
    """A 32-byte key given as base64 (standard or URL-safe, padding optional)."""
    text = value.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("key encryption key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"key encryption key must be 32 bytes, got {len(raw)}")
    return raw


def fingerprint_to_apk_key_hash(fingerprint: str) -> str:
    """``AB:CD:...`` (SHA-256 of the signing certificate) -> the base64url WebAuthn origin."""
    raw = bytes.fromhex(fingerprint.replace(":", ""))
    return ANDROID_ORIGIN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class AuthSettings(BaseSettings):
    """Every configuration key of the auth service. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- general -------------------------------------------------------------------------
    environment: str = Field(
        "local",
        description="Deployment name; anything but `local` requires `HP_AUTH_KEY_ENCRYPTION_KEY`.",
    )
    data_dir: Path = Field(
        Path(".data"),
        description="Folder for the embedded backends (SQLite `auth.db`, local key "
        "encryption key).",
    )

    # --- storage -------------------------------------------------------------------------
    database_url: str = Field(
        "",
        description="SQLAlchemy async URL of the auth database (its own database, not the "
        "health one); empty = SQLite `data_dir/auth.db`.",
    )
    database_pool_size: int = Field(5, ge=1, description="Auth database connections per process.")
    database_connect_timeout_seconds: float = Field(
        3.0, gt=0, description="Connect timeout of the auth database."
    )
    redis_url: SecretStr = Field(
        SecretStr(""),
        description="Redis/Valkey URL for WebAuthn challenges; empty = in-process store "
        "(one replica only).",
    )
    redis_key_prefix: str = Field("hp-auth:", description="Prefix of every auth Redis key.")
    revocation_redis_url: SecretStr = Field(
        SecretStr(""),
        description="Redis/Valkey the revoked session ids are written to, read by every "
        "token verifier (the health Valkey of `HP_REDIS_URL` in the chart); empty = "
        "`redis_url`; both empty = in-process (the all-in-one `up`).",
    )
    revocation_redis_key: str = Field(
        "hp:revoked-sessions",
        description="Sorted set of revoked session ids (same as the API's "
        "`HP_REVOCATION_REDIS_KEY`).",
    )

    # --- relying party -------------------------------------------------------------------
    rp_id: str = Field(
        "localhost", description="WebAuthn relying party id: the registrable domain, no scheme."
    )
    rp_name: str = Field("Health Platform", description="Relying party name shown by devices.")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Accepted WebAuthn origins (comma separated): `https://<host>` under "
        "`rp_id`, `http://localhost[:port]`, `android:apk-key-hash:<b64url>`; empty = "
        "`https://<rp_id>` (plus `http://localhost` when `rp_id` is `localhost`).",
    )
    allow_any_port: bool = Field(False, description="Accept the allowed web origins on any port.")
    android_package_name: str = Field(
        "", description="Android app package served in `/.well-known/assetlinks.json`."
    )
    android_cert_fingerprints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SHA-256 fingerprints (`AB:CD:...`, comma separated) of the Android "
        "signing certificates; each is also accepted as an `android:apk-key-hash` origin.",
    )
    user_verification: UserVerification = Field(
        UserVerification.required,
        description="`required` refuses ceremonies without user verification (PIN, "
        "biometrics); `preferred` or `discouraged` only ask for it and then accept a "
        "passkey that proves presence only (anyone holding the unlocked device signs in "
        "to health data): see docs/security.md before lowering it.",
    )
    resident_key: ResidentKey = Field(
        ResidentKey.required,
        description="Discoverable credentials (passkeys): `required` or `preferred`.",
    )
    challenge_ttl: int = Field(
        300, ge=1, le=600, description="Seconds a ceremony (`requestId`) stays valid; single use."
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest accepted request body (bytes)."
    )
    max_passkeys_per_user: int = Field(10, ge=1, description="Most passkeys one account may hold.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web client origins (comma separated, `https://host[:port]`, never `*`) "
        "allowed to call the auth service cross-origin (the previous server's web client "
        "on its own origin); empty = same origin only. Ceremonies from there also need the "
        "origin in `allowed_origins`.",
    )

    # --- abuse limits (public endpoints) ---------------------------------------------------
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=5,
        description="Proxies in front of the service that append the client address to "
        "`X-Forwarded-For` (the chart: 1, Envoy); the client IP is that many entries from "
        "the right. 0 = the TCP peer is the client (`up`).",
    )
    rate_limit_ip_per_minute: int = Field(
        60,
        ge=1,
        description="Requests per client IP (IPv6: per /64) and minute on `/register/*`, "
        "`/authenticate/*`, `/token/refresh` and `/passkeys/register/*`; 429 with Retry-After.",
    )
    rate_limit_ip_burst: int = Field(60, ge=1, description="Extra burst per client IP.")
    rate_limit_username_per_minute: int = Field(
        10,
        ge=1,
        description="`/register/start` and `/authenticate/start` per username and minute "
        "(whoever asks); usernameless sign-in is not affected.",
    )
    rate_limit_username_burst: int = Field(10, ge=1, description="Extra burst per username.")
    max_pending_ceremonies_per_ip: int = Field(
        50,
        ge=1,
        description="Unfinished ceremonies (`requestId`s) one client IP may hold at once; "
        "one client cannot fill the challenge store for everyone.",
    )

    # --- tokens --------------------------------------------------------------------------
    issuer: str = Field("healthplatform-auth", description="`iss` of the access tokens.")
    audience: str = Field("healthplatform-api", description="`aud` of the access tokens.")
    algorithm: SigningAlgorithm = Field(
        SigningAlgorithm.RS256, description="Signing algorithm of new keys: RS256, ES256, EdDSA."
    )
    access_token_ttl: int = Field(
        900, ge=60, le=3600, description="Access token lifetime (seconds)."
    )
    jwt_leeway_seconds: int = Field(
        30,
        ge=0,
        le=300,
        description="Clock skew allowed when this service checks its own access tokens "
        "(the API's is `HP_JWT_LEEWAY_SECONDS`).",
    )
    refresh_token_ttl: int = Field(
        30 * 86400,
        ge=3600,
        description="Refresh token lifetime (seconds); each use rotates it and extends the "
        "device session by this much.",
    )
    key_encryption_key: SecretStr = Field(
        SecretStr(""),
        description="Base64 32-byte AES-256-GCM key that encrypts the signing keys at rest "
        "(a Kubernetes Secret); empty only when `environment` is `local` (a key is then "
        "generated into `data_dir`).",
    )
    key_rotation_interval: int = Field(
        30 * 86400,
        ge=3600,
        description="Age (seconds) of the active key after which "
        "`rotate` stages a new pending key.",
    )
    key_publish_lead: int = Field(
        600,
        ge=0,
        description="Seconds a pending key is published in the JWKS before `rotate` "
        "activates it (longer than verifiers cache the JWKS).",
    )
    key_reload_seconds: float = Field(
        30.0,
        ge=0,
        description="How often a replica reloads the signing keys from the database (sees "
        "a rotation).",
    )
    key_retention: int = Field(
        86400,
        ge=0,
        description="Seconds a retired key stays published before `rotate` deletes it "
        "(must exceed `access_token_ttl`).",
    )

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        return [normalise_origin(origin) for origin in value]

    @field_validator("allowed_origins", "android_cert_fingerprints", "cors_origins", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("rp_id")
    @classmethod
    def _rp_id_is_a_host(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or "/" in value or ":" in value:
            raise ValueError("rp_id is a bare domain such as `health.example.com`")
        return value

    @field_validator("android_cert_fingerprints")
    @classmethod
    def _normalise_fingerprints(cls, value: list[str]) -> list[str]:
        result = []
        for item in value:
            hex_only = item.replace(":", "").strip().upper()
            canonical = ":".join(hex_only[i : i + 2] for i in range(0, len(hex_only), 2))
            if not _FINGERPRINT.match(canonical):
                raise ValueError(f"not a SHA-256 certificate fingerprint: {item!r}")
            result.append(canonical)
        return result

    @model_validator(mode="after")
    def _check(self) -> AuthSettings:
        for origin in self.allowed_origins:
            self._check_origin(origin)
        if bool(self.android_package_name) != bool(self.android_cert_fingerprints):
            raise ValueError(
                "HP_AUTH_ANDROID_PACKAGE_NAME and HP_AUTH_ANDROID_CERT_FINGERPRINTS go together"
            )
        kek = self.key_encryption_key.get_secret_value()
        if kek:
            decode_key_encryption_key(kek)
        elif self.environment not in LOCAL_ENVIRONMENTS:
            raise ValueError(
                f"HP_AUTH_KEY_ENCRYPTION_KEY is required when HP_AUTH_ENVIRONMENT="
                f"{self.environment!r} (signing keys are encrypted at rest)"
            )
        if self.key_retention <= self.access_token_ttl:
            raise ValueError("HP_AUTH_KEY_RETENTION must exceed HP_AUTH_ACCESS_TOKEN_TTL")
        return self

    def _check_origin(self, origin: str) -> None:
        if origin.startswith(ANDROID_ORIGIN_PREFIX):
            if not _B64URL.match(origin.removeprefix(ANDROID_ORIGIN_PREFIX)):
                raise ValueError(f"android origin needs a base64url SHA-256: {origin!r}")
            return
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.path or parts.query or parts.fragment or not host:
            raise ValueError(f"an origin is scheme://host[:port] only: {origin!r}")
        if parts.scheme == "http" and host != "localhost":
            raise ValueError(f"plain http is allowed for localhost only: {origin!r}")
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported origin scheme: {origin!r}")
        if host != self.rp_id and not host.endswith("." + self.rp_id):
            raise ValueError(f"origin {origin!r} is not within rp_id {self.rp_id!r}")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'auth.db').resolve()}"

    @property
    def web_origins(self) -> list[str]:
        """The allowed ``http(s)`` origins (defaults applied)."""
        explicit = [o for o in self.allowed_origins if not o.startswith(ANDROID_ORIGIN_PREFIX)]
        if explicit:
            return explicit
        defaults = [f"https://{self.rp_id}"]
        if self.rp_id == "localhost":
            defaults.append("http://localhost")
        return defaults

    @property
    def android_origins(self) -> frozenset[str]:
        """``android:apk-key-hash:`` origins: listed ones plus one per fingerprint."""
        listed = {o for o in self.allowed_origins if o.startswith(ANDROID_ORIGIN_PREFIX)}
        derived = {fingerprint_to_apk_key_hash(f) for f in self.android_cert_fingerprints}
        return frozenset(listed | derived)


def reference_table() -> str:
    """Markdown table of every auth setting: env var, default, description."""
    return config_docs.reference_table(AuthSettings, ENV_PREFIX)
