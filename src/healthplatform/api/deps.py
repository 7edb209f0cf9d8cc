"""Dependencies named once and reused: resources, the authenticated caller, rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from healthplatform.core import metrics
from healthplatform.core.errors import TooManyRequests, Unauthorized
from healthplatform.core.tokens import Principal
from healthplatform.runtime import Resources


async def get_resources(request: Request) -> Resources:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool, a
    thread hop per request for an attribute lookup."""
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_principal(request: Request, res: ResourcesDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        metrics.TOKENS_REFUSED.labels(reason="missing").inc()
        raise Unauthorized()
    return await res.verifier.verify(token.strip())


async def get_rate_limited_principal(
    principal: Annotated[Principal, Depends(get_principal)], res: ResourcesDep
) -> Principal:
    decision = await res.limiter.hit(principal.subject)
    if not decision.allowed:
        metrics.RATE_LIMITED.inc()
        raise TooManyRequests(decision.retry_after)
    return principal


CurrentUser = Annotated[Principal, Depends(get_rate_limited_principal)]
