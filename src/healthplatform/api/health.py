"""Liveness, readiness (per dependency) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from healthplatform.api.deps import ResourcesDep
from healthplatform.core import metrics

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 2.0


async def _probe(check: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:  # readiness reports any failure, it never raises
        return f"down: {type(exc).__name__}"


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health")
async def health() -> dict[str, object]:
    return {"status": "healthy", "timestamp": int(time.time() * 1000)}


@router.get("/health/ready")
async def ready(res: ResourcesDep) -> JSONResponse:
    async def database() -> None:
        async with res.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    checks = {
        "database": database,
        "object_store": res.store.check,
        "rate_limiter": res.limiter.check,
    }
    results = dict(
        zip(checks, await asyncio.gather(*(_probe(c) for c in checks.values())), strict=True)
    )
    for name, state in results.items():
        metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if state == "ok" else 0)
    healthy = all(state == "ok" for state in results.values())
    return JSONResponse(
        {"status": "ready" if healthy else "unavailable", "dependencies": results},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
