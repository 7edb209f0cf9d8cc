"""Readiness answers shared by every service: probe each dependency with a timeout, report
per-dependency state, set ``hp_dependency_up``, answer 503 when one is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.core import metrics

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0
Check = Callable[[], Awaitable[object]]


async def probe(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:  # readiness reports any failure, it never raises
        log.warning(
            "readiness: dependency down (answering 503)",
            extra={"cause": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return f"down: {type(exc).__name__}"


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


async def readiness(checks: Mapping[str, Check]) -> JSONResponse:
    states = await asyncio.gather(*(probe(check) for check in checks.values()))
    results = dict(zip(checks, states, strict=True))
    for name, state in results.items():
        metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if state == "ok" else 0)
    healthy = all(state == "ok" for state in states)
    return JSONResponse(
        {"status": "ready" if healthy else "unavailable", "dependencies": results},
        status_code=200 if healthy else 503,
    )
