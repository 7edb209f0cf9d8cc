"""GCRA limiter arithmetic (the Redis variant runs the same tests in integration)."""

from __future__ import annotations

import pytest

from healthplatform.cache.ratelimit import MemoryRateLimiter


async def test_burst_then_refuse_with_retry_after() -> None:
    limiter = MemoryRateLimiter(per_minute=60, burst=3)
    results = [await limiter.hit("u") for _ in range(6)]
    assert [r.allowed for r in results] == [True, True, True, True, False, False]
    assert results[-1].retry_after >= 1


async def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter(per_minute=1, burst=1)
    assert (await limiter.hit("a")).allowed and (await limiter.hit("a")).allowed
    assert not (await limiter.hit("a")).allowed
    assert (await limiter.hit("b")).allowed


@pytest.mark.parametrize("per_minute", [1, 60, 6000])
async def test_first_request_always_allowed(per_minute: int) -> None:
    assert (await MemoryRateLimiter(per_minute, 1).hit("x")).allowed
