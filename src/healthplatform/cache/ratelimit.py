"""Per-user rate limiting (GCRA: smooth rate plus a burst allowance).

Keys are the token's ``sub``, never a client IP (which a client can spoof through
forwarding headers).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from healthplatform.core.errors import DependencyUnavailable


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds, 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, key: str) -> Decision: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class _Gcra:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.interval = 60.0 / per_minute
        self.tolerance = self.interval * burst


class MemoryRateLimiter(_Gcra):
    """For one process (local runs). Old keys are forgotten lazily."""

    def __init__(self, per_minute: int, burst: int) -> None:
        super().__init__(per_minute, burst)
        self._tat: dict[str, float] = {}

    async def hit(self, key: str) -> Decision:
        now = time.monotonic()
        tat = max(self._tat.get(key, now), now)
        allow_at = tat - self.tolerance
        if now < allow_at:
            return Decision(False, math.ceil(allow_at - now))
        self._tat[key] = tat + self.interval
        if len(self._tat) > 100_000:
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return Decision(True, 0)

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


# Server time inside the script (effects replication, Redis >= 5 / Valkey): one round trip,
# and replicas with skewed clocks agree.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return {0, tostring(allow_at - now)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, '0'}
"""


class RedisRateLimiter(_Gcra):
    """Shared by every replica: one atomic Lua script per request."""

    def __init__(self, url: str, per_minute: int, burst: int, prefix: str = "hp:") -> None:
        super().__init__(per_minute, burst)
        self.client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._script = self.client.register_script(_GCRA_LUA)

    async def hit(self, key: str) -> Decision:
        try:
            allowed, wait = await self._script(
                keys=[f"{self.prefix}rl:{key}"], args=[self.interval, self.tolerance]
            )
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("rate limiter") from exc
        return Decision(bool(allowed), 0 if allowed else math.ceil(float(wait)))

    async def check(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
