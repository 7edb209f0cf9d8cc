"""In-cluster endpoints of the auth service (not routed by the public gateway, which sends
only the passkey paths here): the revoked-session list the Health API polls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from healthplatform.auth.deps import ResourcesDep

REVOKED_SESSIONS_PATH = "/internal/revoked-sessions"

internal = APIRouter(tags=["internal"], include_in_schema=False)


@internal.get(REVOKED_SESSIONS_PATH)
async def revoked_sessions(
    res: ResourcesDep, since: Annotated[float, Query(ge=0, le=1e11)] = 0.0
) -> JSONResponse:
    """Session ids revoked at or after ``since`` (Unix time) that still matter: opaque ids
    of sessions that are over, so nothing here opens anything."""
    entries = await res.revocations.entries_since(since)
    return JSONResponse(
        {"revoked": [[sid, at] for sid, at in entries]}, headers={"Cache-Control": "no-store"}
    )
