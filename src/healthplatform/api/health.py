"""Liveness, readiness (per dependency) and Prometheus metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from healthplatform.api.deps import ResourcesDep
from healthplatform.core.readiness import database_check, readiness

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health")
async def health() -> dict[str, object]:
    return {"status": "healthy", "timestamp": int(time.time() * 1000)}


@router.get("/health/ready")
async def ready(res: ResourcesDep) -> JSONResponse:
    return await readiness(
        {
            "database": database_check(res.engine),
            "object_store": res.store.check,
            "rate_limiter": res.limiter.check,
        }
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
