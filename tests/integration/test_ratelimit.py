"""The shared (Redis) rate limiter: exact at the limit, never over it across processes,
and one Redis round trip per leased batch instead of per request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from healthplatform.cache.ratelimit import RedisRateLimiter
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.integration


@pytest.fixture
async def limiters() -> AsyncIterator[Callable[..., RedisRateLimiter]]:
    """Limiters on one fresh key prefix; several stand for several API processes."""
    prefix = f"hp-test-rl-{uuid.uuid4().hex[:8]}:"
    made: list[RedisRateLimiter] = []

    def make(per_minute: int, burst: int, **options: object) -> RedisRateLimiter:
        limiter = RedisRateLimiter(REDIS_URL, per_minute, burst, prefix, **options)  # type: ignore[arg-type]
        made.append(limiter)
        return limiter

    yield make
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    for limiter in made:
        await limiter.close()


async def script_calls() -> int:
    client = aioredis.from_url(REDIS_URL)
    stats = await client.info("commandstats")
    await client.aclose()
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


async def test_burst_then_refuse_with_retry_after(
    limiters: Callable[..., RedisRateLimiter],
) -> None:
    limiter = limiters(per_minute=60, burst=3)  # batches of one: a small burst is not leased
    results = [await limiter.hit("u") for _ in range(6)]
    assert [r.allowed for r in results] == [True, True, True, True, False, False]
    assert results[-1].retry_after >= 1


async def test_leased_batches_stop_exactly_at_the_limit(
    limiters: Callable[..., RedisRateLimiter],
) -> None:
    limiter = limiters(per_minute=1, burst=40)  # batches grow to 8
    assert limiter.max_lease == 8
    results = [(await limiter.hit("u")).allowed for _ in range(60)]
    assert results == [True] * 41 + [False] * 19
    assert (await limiter.hit("someone-else")).allowed


async def test_processes_together_never_exceed_the_limit(
    limiters: Callable[..., RedisRateLimiter],
) -> None:
    workers = [limiters(per_minute=1, burst=40) for _ in range(3)]
    allowed = 0
    for i in range(150):
        allowed += (await workers[i % 3].hit("u")).allowed
    # batches left unused in other processes may refuse a few early, never admit more
    assert 41 - 3 * (workers[0].max_lease - 1) <= allowed <= 41


async def test_concurrent_requests_are_all_counted(
    limiters: Callable[..., RedisRateLimiter],
) -> None:
    limiter = limiters(per_minute=1, burst=40)
    for _ in range(5):  # grow the batch first
        await limiter.hit("u")
    results = await asyncio.gather(*(limiter.hit("u") for _ in range(60)))
    assert sum(r.allowed for r in results) == 41 - 5


async def test_one_round_trip_per_batch(limiters: Callable[..., RedisRateLimiter]) -> None:
    limiter = limiters(per_minute=100_000, burst=10_000)
    await limiter.hit("warm-up")  # loads the script
    before = await script_calls()
    for _ in range(200):
        assert (await limiter.hit("busy")).allowed
    calls = await script_calls() - before
    assert calls <= 200 // 8 + 4  # 1, 2, 4, then batches of 8


async def test_unused_batch_expires_and_the_batch_shrinks(
    limiters: Callable[..., RedisRateLimiter],
) -> None:
    limiter = limiters(per_minute=1, burst=40, lease_seconds=0.05)
    for _ in range(4):  # leases of 1 and 2 used up; the third asks for 4, keeps 3
        assert (await limiter.hit("u")).allowed
    await asyncio.sleep(0.1)
    before = await script_calls()
    assert (await limiter.hit("u")).allowed  # the 3 kept tokens expired: Redis again
    assert await script_calls() - before == 1
    # 1 + 2 + 4 + 1 reserved so far: the kept 3 are lost, not handed out later
    results = [(await limiter.hit("u")).allowed for _ in range(40)]
    assert sum(results) == 41 - 8


async def test_redis_hanging_answers_every_waiting_request_at_once() -> None:
    """Redis accepts but never answers: the reservation in flight times out (2 s) and the
    requests queued behind it fail with it, instead of each waiting its own timeout."""
    from healthplatform.core.errors import DependencyUnavailable

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", 60, 40)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(limiter.hit("u") for _ in range(10)), return_exceptions=True), 8
        )
        assert all(isinstance(r, DependencyUnavailable) for r in results)
    finally:
        await limiter.close()
        server.close()
