"""GET /v1/trends (issue 19, item 4): per-day values of the main metrics over a range, the
same numbers as each day's page and claims, with units and zones; a bounded range."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ApiClient
from tests.integration.test_etl import process_all, upload_files

pytestmark = pytest.mark.integration


async def test_trends_are_the_days_own_numbers(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    await upload_files(api, user, samples)
    await process_all(api, user)
    got = await api.http.get(
        "/v1/trends", params={"from": "2025-09-01", "to": "2025-09-30"}, headers=api.auth(user)
    )
    assert got.status_code == 200, got.text
    trends = got.json()
    assert trends["from"] == "2025-09-01" and trends["zones"] == ["UTC-05:00"]
    units = {s["key"]: s["unit"] for s in trends["series"]}
    assert units["steps"] == "steps" and units["tir_pct"] == "%" and units["hrv_ms"] == "ms"
    assert units["resting_hr_bpm"] == "bpm" and units["sleep_min"] == "min"
    dates = [d["date"] for d in trends["days"]]
    assert dates == ["2025-09-19", "2025-09-20", "2025-09-21"]
    for day in trends["days"]:
        view = (await api.http.get(f"/v1/days/{day['date']}", headers=api.auth(user))).json()
        claims = {c["metric"]: c["value"] for c in view["journal"]["claims"]}
        metrics, values = view["metrics"], day["values"]
        steps = (metrics.get("activity") or {}).get("steps")
        assert values["steps"] == (steps["total"] if steps else None)
        if steps:
            assert values["steps"] == pytest.approx(claims["activity.steps.total"])
        glucose = metrics["glucose"]
        if glucose["status"] == "ok":
            assert values["tir_pct"] == glucose["tir_70_180_pct"]
            assert values["mean_glucose_mg_dl"] == claims["glucose.mean_mg_dl"]
        else:  # the day's page calls it insufficient: no number, the reason
            assert values["tir_pct"] is None and values["mean_glucose_mg_dl"] is None
            assert day["notes"]["glucose"] == glucose["reason"]
        sleep = (metrics.get("sleep") or {}).get("main")
        assert values["sleep_min"] == (sleep["tst_min"] if sleep else None)
        assert day["times"]["bedtime"] == (sleep["bedtime"] if sleep else None)
        hrv = (metrics.get("heart") or {}).get("hrv")
        assert values["hrv_ms"] == (hrv["mean_ms"] if hrv else None)
        assert day["zone"] == "UTC-05:00" and day["sample"] is False
    assert any(d["values"]["tir_pct"] is None for d in trends["days"])
    assert any(d["values"]["hrv_ms"] for d in trends["days"])

    # a range without data is empty, not an error; the range is bounded and ordered
    empty = await api.http.get(
        "/v1/trends", params={"from": "2024-01-01", "to": "2024-01-07"}, headers=api.auth(user)
    )
    assert empty.status_code == 200 and empty.json()["days"] == []
    for params, reason in (
        ({"from": "2025-01-01", "to": "2026-01-02"}, "at most 366 days"),
        ({"from": "2025-09-30", "to": "2025-09-01"}, "before"),
        ({"from": "2025-13-45", "to": "2025-09-01"}, "date"),
        ({"to": "2025-09-01"}, "from"),
    ):
        bad = await api.http.get("/v1/trends", params=params, headers=api.auth(user))
        assert bad.status_code == 422 and reason in bad.text, (params, bad.text)
    year = await api.http.get(
        "/v1/trends", params={"from": "2025-01-01", "to": "2025-12-31"}, headers=api.auth(user)
    )
    assert year.status_code == 200 and len(year.json()["days"]) == 3
    assert (await api.http.get("/v1/trends?from=2025-09-01&to=2025-09-02")).status_code == 401


async def test_the_days_of_an_upload(api: ApiClient, user: str, samples: list[Path]) -> None:
    """The history's expanded row: the days an upload's records fall on, its narrative."""
    glucose = [p for p in samples if p.name.startswith("BloodGlucoseRecord")]
    accepted = await upload_files(api, user, glucose)
    await process_all(api, user)
    listing = set((await api.http.get("/v1/days", headers=api.auth(user))).json()["days"])
    seen: set[str] = set()
    for upload in accepted:
        got = await api.http.get(
            f"/v1/days/by-upload/{upload['correlation_id']}", headers=api.auth(user)
        )
        assert got.status_code == 200, got.text
        body = got.json()
        assert set(body["days"]) <= listing
        assert body["narrative"]["text"].startswith("Uploaded blood glucose data")
        seen |= set(body["days"])
    assert seen == listing  # every day with data came from some upload
    other = await api.http.get(
        f"/v1/days/by-upload/{accepted[0]['correlation_id']}", headers=api.auth("someone-else")
    )
    assert other.status_code == 200 and other.json() == {"days": [], "narrative": None}
    bad = await api.http.get("/v1/days/by-upload/not-a-uuid", headers=api.auth(user))
    assert bad.status_code == 422


async def test_sample_data_is_labelled_and_loads_once(api: ApiClient, user: str) -> None:
    """'Try sample data': the same bytes every time (a second load doubles nothing), the
    label on the history, the day and the trends, and never an AI-training example (even
    for a person who opted in)."""
    await api.opt_in(user)
    first = await api.http.post("/v1/me/sample-data", headers=api.auth(user))
    assert first.status_code == 200, first.text
    assert first.json()["uploads_new"] == 35 and first.json()["uploads_already_there"] == 0
    again = (await api.http.post("/v1/me/sample-data", headers=api.auth(user))).json()
    assert again["uploads_new"] == 0 and again["uploads_already_there"] == 35
    await process_all(api, user)
    history = (await api.http.get("/v1/upload/history?limit=100", headers=api.auth(user))).json()
    assert history["pagination"]["total"] == 35
    assert {u["description"] for u in history["uploads"]} == {again["label"]}
    days = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
    assert days
    view = (await api.http.get(f"/v1/days/{days[0]}", headers=api.auth(user))).json()
    assert view["sample"] == {"label": again["label"]}
    trends = (
        await api.http.get(
            "/v1/trends", params={"from": days[-1], "to": days[0]}, headers=api.auth(user)
        )
    ).json()
    assert trends["days"] and all(d["sample"] for d in trends["days"])
    assert (await api.http.post("/v1/me/sample-data")).status_code == 401
    from sqlalchemy import select

    from healthplatform.core.identity import user_key
    from healthplatform.db.models import DailyMetrics
    from healthplatform.runtime import Resources

    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        keys = (
            await session.execute(
                select(DailyMetrics.training_key).where(DailyMetrics.user_id == user_key(user))
            )
        ).scalars()
        assert set(keys) == {None}
    assert [o async for o in res.store.list(f"training/{user_key(user)}/")] == []


async def test_export_zip_holds_the_originals_csv_and_json_lines(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    import csv
    import hashlib
    import io
    import json
    import zipfile

    accepted = await upload_files(api, user, samples)
    await process_all(api, user)
    got = await api.http.get("/v1/me/export.zip", headers=api.auth(user))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(got.content))
    assert archive.testzip() is None
    names = archive.namelist()
    raw = sorted(n for n in names if n.startswith("raw/"))
    assert len(raw) == len(samples) == len(accepted)
    originals = {hashlib.sha256(p.read_bytes()).hexdigest() for p in samples}
    assert {hashlib.sha256(archive.read(n)).hexdigest() for n in raw} == originals
    lines = [json.loads(x) for x in archive.read("export.jsonl").decode().splitlines()]
    assert lines[0]["type"] == "export" and sum(x["type"] == "upload" for x in lines) == len(
        samples
    )
    records = list(csv.DictReader(io.StringIO(archive.read("csv/records.csv").decode())))
    assert records and {r["record_type"] for r in records} >= {"BloodGlucoseRecord"}
    glucose = [r for r in records if r["record_type"] == "BloodGlucoseRecord"]
    assert all(r["local_start"].endswith("-05:00") for r in glucose)  # the person's clock
    assert all(r["zone_source"] == "inferred" for r in glucose)
    days = list(csv.DictReader(io.StringIO(archive.read("csv/days.csv").decode())))
    trends = (
        await api.http.get(
            "/v1/trends", params={"from": "2025-09-01", "to": "2025-09-30"}, headers=api.auth(user)
        )
    ).json()
    assert [d["date"] for d in days] == [d["date"] for d in trends["days"]]
    for row, day in zip(days, trends["days"], strict=True):
        steps = day["values"]["steps"]
        assert row["steps"] == ("" if steps is None else str(steps))
    assert (await api.http.get("/v1/me/export.zip")).status_code == 401


async def test_sample_data_never_becomes_training_data(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    """Days holding sample uploads get no AI-training example, even for a person who opted
    in (the phone samples, uploaded as sample data, publish journals: only the label
    keeps them out); the same files as the person's own data do."""
    from sqlalchemy import select

    from healthplatform.core.identity import user_key
    from healthplatform.db.models import DailyMetrics
    from healthplatform.runtime import Resources
    from healthplatform.uploads import SAMPLE_DESCRIPTION

    async def training_keys(sub: str) -> set[str | None]:
        res: Resources = api.app.state.resources  # type: ignore[attr-defined]
        async with res.sessions() as session:
            rows = await session.execute(
                select(DailyMetrics.training_key).where(DailyMetrics.user_id == user_key(sub))
            )
            return set(rows.scalars())

    await api.opt_in(user)
    for path in samples:
        sent = await api.http.post(
            "/v1/upload",
            headers=api.auth(user),
            files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
            data={"description": SAMPLE_DESCRIPTION},
        )
        assert sent.status_code == 202, sent.text
    await process_all(api, user)
    assert await training_keys(user) == {None}
    own = f"{user}-own"
    await upload_files(api, own, samples)  # opts in too
    await process_all(api, own)
    assert any(await training_keys(own)), "the same files as one's own data do train"
