"""Access tokens (short-lived JWTs every service verifies against the JWKS) and refresh
tokens (opaque, random, stored only as their SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from healthplatform.auth.errors import unauthorized
from healthplatform.auth.keys import KeyRing, SigningKey
from healthplatform.auth.settings import AuthSettings, SigningAlgorithm
from healthplatform.core.tokens import TokenRefused, TokenRules, check_token

REFRESH_PREFIX = "hprt_"
_ALGORITHMS = frozenset(a.value for a in SigningAlgorithm)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    jti: str


@dataclass(frozen=True)
class AccessClaims:
    """A verified access token of this service: ``subject`` is the opaque user id,
    ``session_id`` the device session (refresh-token family) it was issued to."""

    subject: str
    session_id: str
    claims: dict[str, Any]


def issue_access_token(
    key: SigningKey,
    settings: AuthSettings,
    *,
    subject: str,
    session_id: str,
    username: str | None = None,
    now: int | None = None,
) -> IssuedToken:
    """``sub`` is the opaque, stable user id; ``preferred_username`` carries the username
    for resource servers of the previous server, whose ``sub`` was the username
    (docs/auth.md, "Token claims")."""
    issued_at = int(time.time()) if now is None else now
    jti = uuid.uuid4().hex
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": issued_at,
        "exp": issued_at + settings.access_token_ttl,
        "jti": jti,
        "sid": session_id,
    }
    if username is not None:
        claims["preferred_username"] = username
    token = jwt.encode(
        claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"}
    )
    return IssuedToken(token, settings.access_token_ttl, jti)


def token_rules(settings: AuthSettings) -> TokenRules:
    """The rules this service's own tokens meet: never longer-lived than it issues them."""
    return TokenRules(
        settings.issuer,
        settings.audience,
        _ALGORITHMS,
        leeway=settings.jwt_leeway_seconds,
        max_lifetime=settings.access_token_ttl,
    )


async def verify_access_token(token: str, keys: KeyRing, settings: AuthSettings) -> AccessClaims:
    """:func:`healthplatform.core.tokens.check_token` against the key ring instead of the
    JWKS over HTTP."""
    try:
        principal, _ = await check_token(token, keys.public_key, token_rules(settings))
    except TokenRefused as exc:
        raise unauthorized(exc.message, "token") from exc
    return AccessClaims(principal.subject, str(principal.claims["sid"]), principal.claims)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
