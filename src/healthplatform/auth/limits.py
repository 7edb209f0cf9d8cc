"""Abuse limits of the public auth endpoints (issue 17): per client IP on the ceremonies and
token refresh, per username on the ``*/start`` calls, answered with 429 and Retry-After.

The limiter is the platform's GCRA (:mod:`healthplatform.cache.ratelimit`): shared through
the auth Redis/Valkey in production, in process locally. The client IP is the TCP peer, or
with ``trusted_proxy_hops`` = N the N-th ``X-Forwarded-For`` entry from the right (entries
further left are written by the client and never trusted). IPv6 clients count per /64, the
block one subscriber usually holds.

A limiter whose Redis is down lets requests through (logged): the ceremonies then fail on
the challenge store anyway (503), and token refresh keeps working; the gateway's limit
still applies.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from contextvars import ContextVar

from starlette.requests import Request

from healthplatform.auth import metrics
from healthplatform.auth.settings import AuthSettings
from healthplatform.cache.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from healthplatform.core.errors import DependencyUnavailable, TooManyRequests

log = logging.getLogger(__name__)

# the client key of the request being served (set by the IP limit, read when a ceremony
# is stored: the challenge store's per-client quota)
CLIENT_KEY: ContextVar[str | None] = ContextVar("hp_auth_client_key", default=None)
IPV6_PREFIX = 64


def client_key(address: str) -> str:
    """The bucket of an address: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unparsable"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def client_address(request: Request, trusted_hops: int) -> str:
    peer = request.client.host if request.client else ""
    if trusted_hops == 0:
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
    ]
    if len(forwarded) < trusted_hops:
        return peer  # not through the expected proxies (in-cluster caller)
    return forwarded[-trusted_hops]


def too_many(retry_after: int, reason: str) -> TooManyRequests:
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return TooManyRequests(retry_after)


async def _hit(limiter: RateLimiter, key: str) -> Decision:
    try:
        return await limiter.hit(key)
    except DependencyUnavailable:
        log.warning("auth rate limiter unavailable: request let through")
        return Decision(True, 0)


def _limiter(settings: AuthSettings, kind: str, per_minute: int, burst: int) -> RateLimiter:
    url = settings.redis_url.get_secret_value()
    if url:
        return RedisRateLimiter(url, per_minute, burst, f"{settings.redis_key_prefix}{kind}:")
    return MemoryRateLimiter(per_minute, burst)


class AuthLimits:
    def __init__(self, settings: AuthSettings) -> None:
        self.trusted_hops = settings.trusted_proxy_hops
        self.ip = _limiter(
            settings, "ip", settings.rate_limit_ip_per_minute, settings.rate_limit_ip_burst
        )
        self.username = _limiter(
            settings,
            "username",
            settings.rate_limit_username_per_minute,
            settings.rate_limit_username_burst,
        )

    async def by_client(self, request: Request) -> str:
        """Count the request against its client IP; the client key for the request."""
        key = client_key(client_address(request, self.trusted_hops))
        CLIENT_KEY.set(key)
        decision = await _hit(self.ip, key)
        if not decision.allowed:
            raise too_many(decision.retry_after, "rate_limited_ip")
        return key

    async def by_username(self, username: str) -> None:
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]  # no names in Redis
        decision = await _hit(self.username, digest)
        if not decision.allowed:
            raise too_many(decision.retry_after, "rate_limited_username")

    async def close(self) -> None:
        await self.ip.close()
        await self.username.close()
