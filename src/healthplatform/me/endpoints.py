"""/v1/me endpoints: erase my data, my time zone, my AI-training choice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.core.errors import Unprocessable
from healthplatform.etl.zones import UnknownZone
from healthplatform.me import consent, service, timezone

router = APIRouter(prefix="/v1/me", tags=["me"])


class ErasedOut(BaseModel):
    status: str = "deleted"
    uploads_deleted: int
    derived_rows_deleted: int
    objects_deleted: int


@router.delete("/data", response_model=ErasedOut)
async def delete_my_data(user: CurrentUser, res: ResourcesDep) -> ErasedOut:
    """Erase the caller's uploads, stored files and derived data. Returns counts."""
    erased = await service.erase_user_data(res, user.user_id)
    return ErasedOut(
        uploads_deleted=erased.uploads_deleted,
        derived_rows_deleted=erased.derived_rows_deleted,
        objects_deleted=erased.objects_deleted,
    )


class ZoneNow(BaseModel):
    source: str = Field(description="set (by you), inferred (from your records) or utc")
    zone: str | None = Field(description="The IANA zone you set, when set")
    offset: str = Field(description="The offset in force now, e.g. UTC-05:00")


class ZoneSettingOut(BaseModel):
    from_: date | None = Field(alias="from", description="First local day (null: always)")
    zone: str = Field(description="IANA zone name, or auto (inferred)")


class ZoneChange(BaseModel):
    from_: datetime = Field(alias="from", description="First hour at this offset (UTC)")
    offset: str


class ZoneOut(BaseModel):
    current: ZoneNow
    settings: list[ZoneSettingOut] = Field(description="Your settings, oldest first")
    inferred: list[ZoneChange] = Field(description="Offset changes your records show")
    apps_stamping_utc: list[str] = Field(
        description="Apps found writing Z while your others wrote a local offset: their "
        "records are placed in your zone"
    )
    records_placed: dict[str, int] = Field(
        description="Your records by how they were placed: record, inferred, set, utc"
    )
    recalculating: bool = Field(description="Your days are being derived again after a change")


class ZoneIn(BaseModel):
    zone: str = Field(
        max_length=64, description="IANA zone name (Europe/Paris), or auto to infer it"
    )
    from_: date | None = Field(
        None, alias="from", description="First local day it applies to (default: always)"
    )


@router.get("/timezone", response_model=ZoneOut, response_model_by_alias=True)
async def get_timezone(user: CurrentUser, res: ResourcesDep) -> Any:
    """Your home time zone: set by you, or inferred from the records that carry an offset
    (records stamped Z by an app that does so, or without an offset, are placed in it)."""
    return await timezone.zone_state(res, user.user_id)


@router.put(
    "/timezone",
    response_model=ZoneOut,
    response_model_by_alias=True,
    status_code=status.HTTP_202_ACCEPTED,
)
async def put_timezone(body: ZoneIn, user: CurrentUser, res: ResourcesDep) -> Any:
    """Set your zone from a day on (later settings are replaced); your days are derived
    again in the background (202)."""
    try:
        await timezone.set_zone(res, user.user_id, body.zone, body.from_)
    except UnknownZone as exc:
        raise Unprocessable(str(exc)) from exc
    return await timezone.zone_state(res, user.user_id)


@router.delete(
    "/timezone",
    response_model=ZoneOut,
    response_model_by_alias=True,
    status_code=status.HTTP_202_ACCEPTED,
)
async def delete_timezone(user: CurrentUser, res: ResourcesDep) -> Any:
    """Forget your settings: your zone is inferred from your records again (202)."""
    await timezone.set_zone(res, user.user_id, "auto", None)
    return await timezone.zone_state(res, user.user_id)


class ConsentOut(BaseModel):
    purpose: str
    granted: bool = Field(description="Your latest answer; false until you opt in")
    version: str | None = Field(description="Version of the statement you answered")
    decided_at: datetime | None
    statement: str = Field(description="What you are asked")
    statement_version: str


class ConsentIn(BaseModel):
    granted: bool


@router.get("/consent/ai-training", response_model=ConsentOut)
async def get_consent(user: CurrentUser, res: ResourcesDep) -> Any:
    """Whether your narratives may become AI-training examples (off until you opt in)."""
    return await consent.consent_state(res, user.user_id)


@router.put("/consent/ai-training", response_model=ConsentOut)
async def put_consent(body: ConsentIn, user: CurrentUser, res: ResourcesDep) -> Any:
    """Record your answer. No deletes the examples made from your data at once."""
    return await consent.decide(res, user.user_id, body.granted)
