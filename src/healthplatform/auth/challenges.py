"""Single-use ceremony state (challenge and who started it) keyed by ``requestId``.

Two stores behind one interface: Redis in production (``SET NX EX`` and atomic ``GETDEL``,
shared by every replica) and process memory locally. ``take`` returns a value at most once.
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

from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import DependencyUnavailable

CeremonyKind = Literal["register", "authenticate", "add_passkey"]
MAX_REQUEST_ID_CHARS = 128


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


class ChallengeStore(Protocol):
    async def put(self, request_id: str, value: str, ttl: int) -> None: ...

    async def take(self, request_id: str) -> str | None:
        """The value, removed in the same step; ``None`` if unknown, used or expired."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class MemoryChallengeStore:
    """One process only (local runs). Bounded: refuses new ceremonies when full."""

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._items: dict[str, tuple[float, str]] = {}

    async def put(self, request_id: str, value: str, ttl: int) -> None:
        now = self._clock()
        if len(self._items) >= self.max_entries:
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            if len(self._items) >= self.max_entries:
                raise DependencyUnavailable("challenge store (full)")
        self._items[request_id] = (now + ttl, value)

    async def take(self, request_id: str) -> str | None:
        item = self._items.pop(request_id, None)  # atomic: no await between read and delete
        if item is None or item[0] <= self._clock():
            return None
        return item[1]

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        self._items.clear()


class RedisChallengeStore:
    """Shared by every replica. Needs Redis >= 6.2 (``GETDEL``)."""

    def __init__(self, url: str, prefix: str = "hp-auth:") -> None:
        self.client = aioredis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self.prefix = prefix

    def _key(self, request_id: str) -> str:
        return f"{self.prefix}ceremony:{request_id}"

    async def put(self, request_id: str, value: str, ttl: int) -> None:
        try:
            stored = await self.client.set(self._key(request_id), value, ex=ttl, nx=True)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("challenge store") from exc
        if not stored:  # 256-bit random ids do not collide; refuse rather than overwrite
            raise DependencyUnavailable("challenge store (id collision)")

    async def take(self, request_id: str) -> str | None:
        try:
            value = await self.client.getdel(self._key(request_id))
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("challenge store") from exc
        return value if isinstance(value, str) else None

    async def check(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def create_challenge_store(settings: AuthSettings) -> ChallengeStore:
    url = settings.redis_url.get_secret_value()
    if url:
        return RedisChallengeStore(url, settings.redis_key_prefix)
    return MemoryChallengeStore()
