"""Bearer token verification against the auth service's JWKS (zero trust: every service
checks tokens itself, the gateway is not the only check)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt import PyJWK
from jwt.exceptions import InvalidTokenError, PyJWKError

from healthplatform.core import metrics
from healthplatform.core.errors import Unauthorized
from healthplatform.core.identity import user_key
from healthplatform.core.revocation import RevocationList

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8192
VERIFIED_CACHE_SIZE = 10_000
DEFAULT_MAX_LIFETIME = 3600


@dataclass(frozen=True)
class Principal:
    """The caller: ``subject`` is the token's stable opaque user id."""

    subject: str
    token_id: str | None
    claims: dict[str, Any]
    user_id: str = field(init=False)  # the key of the caller's stored data

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", user_key(self.subject))


class JwksCache:
    """Keys by ``kid``; refetched when an unknown ``kid`` appears (at most every
    ``min_refresh`` seconds, so garbage kids cannot hammer the auth service)."""

    def __init__(
        self,
        url: str,
        *,
        min_refresh: float = 10.0,
        ttl: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.min_refresh = min_refresh
        self.ttl = ttl
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._client.aclose()

    async def _refresh(self) -> None:
        response = await self._client.get(self.url)
        response.raise_for_status()
        keys: dict[str, PyJWK] = {}
        for jwk in response.json().get("keys", []):
            kid = jwk.get("kid")
            if not kid or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = PyJWK(jwk)
            except PyJWKError:
                log.warning("ignoring unusable JWK", extra={"kid": kid})
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def get(self, kid: str) -> PyJWK | None:
        stale = time.monotonic() - self._fetched_at > self.ttl
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            since = time.monotonic() - self._fetched_at
            if (kid not in self._keys and since >= self.min_refresh) or stale:
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("JWKS fetch failed", extra={"url": self.url, "error": str(exc)})
        return self._keys.get(kid)


KeyLookup = Callable[[str], Awaitable[PyJWK | None]]
"""The published verification key of a ``kid`` (None: unknown)."""


class TokenRefused(Unauthorized):
    """The bearer token is refused (expired, revoked, forged...): sign in or refresh."""

    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid token: {reason}")
        self.reason = reason  # labels the refusal metric


@dataclass(frozen=True)
class TokenRules:
    """What a valid access token looks like; ``leeway`` is the clock skew allowed on
    ``exp``/``nbf``/``iat``, ``max_lifetime`` the longest ``exp - iat``."""

    issuer: str
    audience: str
    algorithms: Collection[str]
    leeway: int = 30
    max_lifetime: int = DEFAULT_MAX_LIFETIME


async def check_token(token: str, key_of: KeyLookup, rules: TokenRules) -> tuple[Principal, str]:
    """Every check of an access token (the API's and the auth service's): size, ``alg``,
    ``kid``, signature, ``iss``, ``aud``, times, subject, ``sid``, lifetime. Returns the
    caller and the ``kid``; raises :class:`TokenRefused`."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRefused("too large")
    try:
        header = jwt.get_unverified_header(token)
    except (InvalidTokenError, json.JSONDecodeError, ValueError) as exc:
        raise TokenRefused("malformed") from exc
    alg = header.get("alg")
    if alg not in rules.algorithms:
        raise TokenRefused("algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("missing kid")
    key = await key_of(kid)
    if key is None:
        raise TokenRefused("unknown kid")
    if key.algorithm_name != alg:
        raise TokenRefused("algorithm does not match key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "sid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRefused("expired") from exc
    except InvalidTokenError as exc:
        raise TokenRefused(type(exc).__name__) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise TokenRefused("bad subject")
    sid = claims.get("sid")
    if not isinstance(sid, str) or not sid or len(sid) > 255:
        raise TokenRefused("bad session id")
    issued_at, expires = claims["iat"], claims["exp"]
    if not isinstance(issued_at, int | float) or expires - issued_at > rules.max_lifetime:
        raise TokenRefused("lifetime too long")
    return Principal(subject, claims.get("jti"), claims), kid


class TokenVerifier:
    """:func:`check_token` against the JWKS, with verified tokens cached until they expire
    and revoked sessions refused."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        leeway: int = 30,
        max_lifetime: int = DEFAULT_MAX_LIFETIME,
        revocations: RevocationList | None = None,
    ) -> None:
        self.jwks = jwks
        self.rules = TokenRules(issuer, audience, tuple(algorithms), leeway, max_lifetime)
        self.revocations = revocations
        # verified tokens until they expire: a phone sends the same token for a whole batch
        # of uploads, and the signature check is the costliest part of a request's auth.
        # A hit still checks that the signing key is published and the session not revoked.
        self._verified: OrderedDict[str, tuple[float, str, Principal]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        try:
            return await self._verify(token)
        except TokenRefused as exc:
            metrics.TOKENS_REFUSED.labels(reason=exc.reason).inc()
            raise

    async def _verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and time.time() >= cached[0] + self.rules.leeway:
            del self._verified[token]
            cached = None
        if cached is None:
            principal, kid = await check_token(token, self.jwks.get, self.rules)
        else:
            _, kid, principal = cached
            if await self.jwks.get(kid) is None:  # the key was removed from the JWKS since
                self._verified.pop(token, None)
                raise TokenRefused("unknown kid")
        await self._check_session(principal)
        if cached is None:
            self._verified[token] = (float(principal.claims["exp"]), kid, principal)
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    async def _check_session(self, principal: Principal) -> None:
        if self.revocations is None:
            return
        sid = principal.claims.get("sid")
        if isinstance(sid, str) and await self.revocations.is_revoked(sid):
            raise TokenRefused("session revoked")
