"""Single-use ceremony state (challenge and who started it) keyed by ``requestId``.

Two stores behind one interface: Redis in production (``SET NX EX`` and atomic ``GETDEL``,
shared by every replica) and process memory locally. ``take`` returns a value at most once.

A ceremony stored with an ``owner`` (the client IP key) counts against that owner's quota of
pending ceremonies until it is taken or expires: one client cannot fill the store for
everyone (issue 17); over the quota ``put`` raises 429 with the wait until a slot frees.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from healthplatform.auth import metrics
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import DependencyUnavailable, TooManyRequests

CeremonyKind = Literal["register", "authenticate", "add_passkey"]
MAX_REQUEST_ID_CHARS = 128
_OWNER_SEPARATOR = "\x1f"  # never in a ceremony: JSON escapes control characters


def new_request_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Ceremony:
    """What ``*/start`` handed out; ``user_id`` is set when the user is already known."""

    kind: CeremonyKind
    challenge: str  # base64url
    user_id: str | None = None
    username: str | None = None
    display_name: str | None = None
    user_handle: str | None = None  # base64url
    passkey_name: str | None = None

    def dumps(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def loads(cls, raw: str) -> Ceremony:
        return cls(**json.loads(raw))


def _over_quota(retry_after: float) -> TooManyRequests:
    metrics.AUTH_FAILURES.labels(reason="pending_ceremonies").inc()
    return TooManyRequests(max(1, int(retry_after) + 1))


class ChallengeStore(Protocol):
    async def put(
        self, request_id: str, value: str, ttl: int, owner: str | None = None
    ) -> None: ...

    async def take(self, request_id: str) -> str | None:
        """The value, removed in the same step; ``None`` if unknown, used or expired."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class MemoryChallengeStore:
    """One process only (local runs). Bounded: refuses new ceremonies when full."""

    def __init__(
        self,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_per_owner: int = 0,
    ) -> None:
        self.max_entries = max_entries
        self.max_per_owner = max_per_owner  # 0 = no quota
        self._clock = clock
        self._items: dict[str, tuple[float, str, str | None]] = {}
        self._owned: dict[str, dict[str, float]] = {}  # owner -> {request_id: expiry}

    def _check_quota(self, owner: str, now: float) -> None:
        pending = self._owned.get(owner)
        if pending is None:
            return
        for rid in [rid for rid, expiry in pending.items() if expiry <= now]:
            del pending[rid]
        if not pending:
            del self._owned[owner]
        elif len(pending) >= self.max_per_owner:
            raise _over_quota(min(pending.values()) - now)

    async def put(self, request_id: str, value: str, ttl: int, owner: str | None = None) -> None:
        now = self._clock()
        if owner is not None and self.max_per_owner:
            self._check_quota(owner, now)
        if len(self._items) >= self.max_entries:
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._owned = {
                o: live
                for o, rids in self._owned.items()
                if (live := {r: e for r, e in rids.items() if e > now})
            }
            if len(self._items) >= self.max_entries:
                raise DependencyUnavailable("challenge store (full)")
        self._items[request_id] = (now + ttl, value, owner)
        if owner is not None and self.max_per_owner:
            self._owned.setdefault(owner, {})[request_id] = now + ttl

    async def take(self, request_id: str) -> str | None:
        item = self._items.pop(request_id, None)  # atomic: no await between read and delete
        if item is None:
            return None
        expiry, value, owner = item
        if owner is not None and owner in self._owned:
            self._owned[owner].pop(request_id, None)
            if not self._owned[owner]:
                del self._owned[owner]
        return value if expiry > self._clock() else None

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        self._items.clear()
        self._owned.clear()


# Atomic quota check and store (server time): drop the owner's expired entries, refuse when
# the quota is used up (answer the wait until the oldest frees), else store the ceremony
# and remember it under the owner. KEYS: ceremony, owner set; ARGV: value, ttl, quota, id.
_PUT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) - now)}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl, 'NX') then return {-1, '0'} end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
redis.call('EXPIRE', KEYS[2], ttl + 1)
return {1, '0'}
"""


class RedisChallengeStore:
    """Shared by every replica. Needs Redis >= 6.2 (``GETDEL``)."""

    def __init__(self, url: str, prefix: str = "hp-auth:", *, max_per_owner: int = 0) -> None:
        self.client = aioredis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self.prefix = prefix
        self.max_per_owner = max_per_owner
        self._put_script = self.client.register_script(_PUT_LUA)

    def _key(self, request_id: str) -> str:
        return f"{self.prefix}ceremony:{request_id}"

    def _owner_key(self, owner: str) -> str:
        return f"{self.prefix}pending:{owner}"

    async def put(self, request_id: str, value: str, ttl: int, owner: str | None = None) -> None:
        try:
            if owner is not None and self.max_per_owner:
                stored, wait = await self._put_script(
                    keys=[self._key(request_id), self._owner_key(owner)],
                    args=[owner + _OWNER_SEPARATOR + value, ttl, self.max_per_owner, request_id],
                )
                if int(stored) == 0:
                    raise _over_quota(float(wait))
                stored = int(stored) == 1
            else:
                stored = await self.client.set(self._key(request_id), value, ex=ttl, nx=True)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("challenge store") from exc
        if not stored:  # 256-bit random ids do not collide; refuse rather than overwrite
            raise DependencyUnavailable("challenge store (id collision)")

    async def take(self, request_id: str) -> str | None:
        try:
            value = await self.client.getdel(self._key(request_id))
            if not isinstance(value, str):
                return None
            owner, separator, ceremony = value.partition(_OWNER_SEPARATOR)
            if not separator:
                return value
            await self.client.zrem(self._owner_key(owner), request_id)  # frees the slot
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("challenge store") from exc
        return ceremony

    async def check(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def create_challenge_store(settings: AuthSettings) -> ChallengeStore:
    url = settings.redis_url.get_secret_value()
    quota = settings.max_pending_ceremonies_per_ip
    if url:
        return RedisChallengeStore(url, settings.redis_key_prefix, max_per_owner=quota)
    return MemoryChallengeStore(max_per_owner=quota)
