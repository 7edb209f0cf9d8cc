"""GET /v1/days (issue 20, item 6): the day view goes out through its response model
(days/schemas.py), byte for byte the JSON of the service's dict."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from healthplatform.core.identity import user_key
from healthplatform.days.schemas import DayView, UploadDays
from healthplatform.days.service import day_view, upload_days
from healthplatform.runtime import Resources
from tests.conftest import ApiClient
from tests.integration.test_etl import process_all

pytestmark = pytest.mark.integration


def rendered(body: object) -> bytes:
    """The bytes FastAPI sends for ``body`` without a response model."""
    return bytes(JSONResponse(jsonable_encoder(body)).body)


async def test_the_sample_week_day_views_are_the_models_and_the_services(
    api: ApiClient, user: str
) -> None:
    """Every day of the sample week validates as DayView and is sent exactly as the
    service's dict renders (the model adds, drops and reorders nothing); so does every
    upload's row of the history."""
    loaded = await api.http.post("/v1/me/sample-data", headers=api.auth(user))
    assert loaded.status_code == 200, loaded.text
    await process_all(api, user)
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    days = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
    assert len(days) >= 7
    journals = 0
    for day in days:
        got = await api.http.get(f"/v1/days/{day}", headers=api.auth(user))
        assert got.status_code == 200, got.text
        view = await day_view(res, user_key(user), date.fromisoformat(day))
        assert view is not None
        model = DayView.model_validate(view)
        assert model.zone.label and model.sample is not None
        journals += model.journal is not None
        assert got.content == rendered(view)
    assert journals  # the claims of a journal went through the model too
    history = (await api.http.get("/v1/upload/history?limit=100", headers=api.auth(user))).json()
    for upload in history["uploads"]:
        upload_id = uuid.UUID(upload["correlation_id"])
        got = await api.http.get(f"/v1/days/by-upload/{upload_id}", headers=api.auth(user))
        expected = await upload_days(res, user_key(user), upload_id)
        UploadDays.model_validate(expected)
        assert got.content == rendered(expected)
