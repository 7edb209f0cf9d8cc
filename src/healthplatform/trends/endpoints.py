"""/v1/trends: per-day values of the main metrics over a date range (week, month views)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.core.errors import Unprocessable
from healthplatform.trends import service

router = APIRouter(prefix="/v1/trends", tags=["trends"])


@router.get("")
async def get_trends(
    user: CurrentUser,
    res: ResourcesDep,
    start: Annotated[date, Query(alias="from", description="First local date (YYYY-MM-DD).")],
    end: Annotated[date, Query(alias="to", description="Last local date, inclusive.")],
) -> dict[str, Any]:
    """Steps, main sleep (duration, bedtime, wake time), time in range, mean glucose, resting
    heart rate and HRV of each day with data in the range, with units and each day's zone.
    The values are the days' own (the day pages and journals state the same numbers); a
    value the day's data cannot support is null, with the reason in ``notes``."""
    if end < start:
        raise Unprocessable("`to` is before `from`")
    if (end - start).days + 1 > service.MAX_DAYS:
        raise Unprocessable(f"at most {service.MAX_DAYS} days per request")
    return await service.trends(res, user.user_id, start, end)
