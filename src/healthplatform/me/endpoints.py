"""/v1/me endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.me import service

router = APIRouter(prefix="/v1/me", tags=["me"])


class ErasedOut(BaseModel):
    status: str = "deleted"
    uploads_deleted: int
    derived_rows_deleted: int
    objects_deleted: int


@router.delete("/data", response_model=ErasedOut)
async def delete_my_data(user: CurrentUser, res: ResourcesDep) -> ErasedOut:
    """Erase the caller's uploads, stored files and derived data. Returns counts."""
    erased = await service.erase_user_data(res, user.subject)
    return ErasedOut(
        uploads_deleted=erased.uploads_deleted,
        derived_rows_deleted=erased.derived_rows_deleted,
        objects_deleted=erased.objects_deleted,
    )
