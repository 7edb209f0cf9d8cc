"""GET /v1/me/export and /v1/me/export.zip."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.exports.zip import zip_stream
from healthplatform.narratives.service import export_lines

router = APIRouter(prefix="/v1/me")


@router.get(
    "/export",
    tags=["narratives"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_my_data(user: CurrentUser, res: ResourcesDep) -> StreamingResponse:
    """Everything derived from my uploads as JSON lines (uploads, daily metrics, narratives)."""
    return StreamingResponse(
        export_lines(res, user.user_id),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="healthplatform-export.jsonl"'},
    )


@router.get(
    "/export.zip",
    tags=["me"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export_zip(user: CurrentUser, res: ResourcesDep) -> StreamingResponse:
    """Everything of mine in one ZIP: the original files (raw/), the JSON lines
    (export.jsonl) and CSV tables of my records and my days (csv/)."""
    return StreamingResponse(
        zip_stream(res, user.user_id),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="healthplatform-export.zip"'},
    )
