"""/v1/days: the dates with data and one day's view (metrics, journal, plot series)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.core.errors import NotFound
from healthplatform.days import service
from healthplatform.days.schemas import DayList, DayView, UploadDays

router = APIRouter(prefix="/v1/days", tags=["days"])


@router.get("", response_model=DayList)
async def list_days(
    user: CurrentUser, res: ResourcesDep, limit: Annotated[int, Query(ge=1, le=366)] = 60
) -> dict[str, list[str]]:
    """Local dates that have metrics, newest first."""
    return {"days": await service.days_with_data(res, user.user_id, limit)}


@router.get("/by-upload/{upload_id}", response_model=UploadDays)
async def days_of_upload(
    upload_id: uuid.UUID, user: CurrentUser, res: ResourcesDep
) -> dict[str, Any]:
    """The local days an upload's records fall on (those with data) and its narrative in
    full, for the history's expanded row; an upload of someone else reads as empty."""
    return await service.upload_days(res, user.user_id, upload_id)


@router.get("/{day}", response_model=DayView)
async def get_day(day: date, user: CurrentUser, res: ResourcesDep) -> dict[str, Any]:
    """Metrics, the daily journal and the series the day view plots (minutes since local
    midnight): glucose, heart rate, sleep stages, hourly steps and active calories."""
    view = await service.day_view(res, user.user_id, day)
    if view is None:
        raise NotFound("no data for that day")
    return view
