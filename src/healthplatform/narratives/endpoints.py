"""/v1/narratives."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.core.errors import BadRequest
from healthplatform.etl.metrics import DOMAINS
from healthplatform.narratives import service
from healthplatform.narratives.schemas import NarrativeList
from healthplatform.uploads.schemas import Pagination

router = APIRouter(tags=["narratives"])
MAX_RANGE_DAYS = 366


@router.get("/v1/narratives", response_model=NarrativeList)
async def list_narratives(
    user: CurrentUser,
    res: ResourcesDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    domain: Annotated[str | None, Query(max_length=32)] = None,
    kind: Literal["daily", "upload"] = "daily",
    limit: Annotated[int, Query(ge=1, le=366)] = 31,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Daily journals (or per-upload narratives) between two local dates, newest first."""
    if from_ and to and from_ > to:
        raise BadRequest("`from` is after `to`")
    if from_ and to and (to - from_).days > MAX_RANGE_DAYS:
        raise BadRequest(f"date range longer than {MAX_RANGE_DAYS} days")
    if domain is not None and domain not in DOMAINS:
        raise BadRequest(f"unknown domain {domain!r}; one of {', '.join(DOMAINS)}")
    rows, total = await service.list_narratives(
        res,
        user.user_id,
        first=from_,
        last=to,
        domain=domain,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    # the stored sentences and claims go out as they are (no model validation of
    # thousands of claims); the response model documents the shape
    pagination = Pagination(
        total=total, limit=limit, offset=offset, has_more=offset + len(rows) < total
    )
    body = {"narratives": rows, "pagination": pagination.model_dump()}
    return Response(orjson.dumps(body), media_type="application/json")
