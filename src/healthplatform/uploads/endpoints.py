"""/v1/upload endpoints."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.api.multipart import read_form
from healthplatform.core.errors import BadRequest, PayloadTooLarge
from healthplatform.db.models import UploadStatus
from healthplatform.uploads import service
from healthplatform.uploads.schemas import (
    Pagination,
    UploadAccepted,
    UploadHistory,
    UploadStatusOut,
)

router = APIRouter(prefix="/v1/upload", tags=["uploads"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"example": {"detail": text}}}}
    for code, text in {
        400: "bad, truncated or empty Avro file, or a bad file name",
        401: "missing or invalid bearer token",
        413: "body or decompressed data over the limit",
        415: "not an Avro file / not multipart",
        422: "unsupported record type or file name / type mismatch",
        429: "rate limit exceeded (see Retry-After)",
        503: "a dependency is down; nothing was stored",
    }.items()
}


@router.post("", status_code=202, response_model=UploadAccepted, responses=ERRORS)
async def upload(request: Request, user: CurrentUser, res: ResourcesDep) -> JSONResponse:
    """Accept one Health Connect Avro file (multipart field `file`, optional `description`).

    The same bytes uploaded again by the same user return the existing upload."""
    limit = res.settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("invalid Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    form = await read_form(request.stream(), request.headers.get("content-type"), limit)
    if "file" not in form.files:
        raise BadRequest("multipart field `file` is missing")
    filename, data = form.files["file"]
    accepted = await service.accept_upload(
        res, user.user_id, filename, data, form.fields.get("description")
    )
    body = UploadAccepted.of(accepted.upload, accepted.duplicate)
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


@router.get(
    "/status/{correlation_id}",
    response_model=UploadStatusOut,
    responses={404: {"description": "no such upload for this user"}},
)
async def upload_status(
    correlation_id: uuid.UUID, user: CurrentUser, res: ResourcesDep
) -> UploadStatusOut:
    upload = await service.get_status(res, user.user_id, correlation_id)
    return UploadStatusOut.model_validate(upload)


@router.get("/history", response_model=UploadHistory)
async def upload_history(
    user: CurrentUser,
    res: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    status: UploadStatus | None = None,
    record_type: Annotated[str | None, Query(max_length=64)] = None,
    from_date: date | None = None,
    to_date: date | None = None,
) -> UploadHistory:
    flt = service.HistoryFilter(status, record_type, from_date, to_date)
    rows, total = await service.history(res, user.user_id, flt, limit, offset)
    return UploadHistory(
        uploads=[UploadStatusOut.model_validate(r) for r in rows],
        pagination=Pagination(
            total=total, limit=limit, offset=offset, has_more=offset + len(rows) < total
        ),
    )
