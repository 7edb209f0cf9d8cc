"""Access tokens (short-lived JWTs every service verifies against the JWKS) and refresh
tokens (opaque, random, stored only as their SHA-256)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError

from healthplatform.auth.errors import unauthorized
from healthplatform.auth.keys import KeyRing, SigningKey
from healthplatform.auth.settings import AuthSettings, SigningAlgorithm

REFRESH_PREFIX = "hprt_"
MAX_TOKEN_CHARS = 8192
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
    jti: str
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


async def verify_access_token(token: str, keys: KeyRing, settings: AuthSettings) -> AccessClaims:
    """The checks of :class:`healthplatform.core.tokens.TokenVerifier`, against the
    key ring instead of the JWKS over HTTP, plus the ``sid`` claim."""
    if len(token) > MAX_TOKEN_CHARS:
        raise unauthorized("invalid token: too large", "token")
    try:
        header = jwt.get_unverified_header(token)
    except (InvalidTokenError, json.JSONDecodeError, ValueError) as exc:
        raise unauthorized("invalid token: malformed", "token") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in _ALGORITHMS:
        raise unauthorized("invalid token: algorithm not allowed", "token")
    key = await keys.public_key(kid) if isinstance(kid, str) and kid else None
    if key is None or key.algorithm_name != alg:
        raise unauthorized("invalid token: unknown key", "token")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=30,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized("invalid token: expired", "token") from exc
    except InvalidTokenError as exc:
        raise unauthorized(f"invalid token: {type(exc).__name__}", "token") from exc
    subject, session_id = claims.get("sub"), claims.get("sid")
    if not isinstance(subject, str) or not isinstance(session_id, str):
        raise unauthorized("invalid token: not a session token", "token")
    if claims["exp"] - claims["iat"] > settings.access_token_ttl:
        raise unauthorized("invalid token: lifetime too long", "token")
    return AccessClaims(subject, session_id, str(claims["jti"]), claims)


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
