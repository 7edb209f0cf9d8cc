"""Narratives people can trust, end to end on both backends: the person's clock, upload
order and concurrency, consent, superseded upload narratives, and `healthplatform verify`."""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path
from typing import Any

import fastavro
import pytest
from sqlalchemy import select, update

from healthplatform.core.identity import user_key
from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.etl.pipeline import rederive_user
from healthplatform.runtime import Resources
from tests.conftest import ApiClient
from tests.integration.test_backup_helpers import (
    Platform,
    running_api,
)
from tests.integration.test_etl import avro, daily, process_all, upload_files
from tests.support import services

pytestmark = pytest.mark.integration


async def state(api: ApiClient, user: str) -> dict[str, Any]:
    """Everything a person reads: metrics, clock, chart series, every narrative's text and
    claims (upload narratives by their file, not their upload id)."""
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        days = (
            await session.execute(
                select(DailyMetrics).where(DailyMetrics.user_id == user_key(user))
            )
        ).scalars()
        out: dict[str, Any] = {
            d.local_date.isoformat(): (d.metrics, d.context, d.series) for d in days
        }
        journals = (
            await session.execute(
                select(Narrative).where(
                    Narrative.user_id == user_key(user), Narrative.kind == "daily"
                )
            )
        ).scalars()
        for n in journals:
            out[f"journal {n.local_date}"] = (n.statistical, n.structural, n.semantic, n.claims)
    return out


async def test_glucose_moves_to_the_persons_clock_and_follows_a_set_zone(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    await upload_files(api, user, samples)
    await process_all(api, user)
    zone = (await api.http.get("/v1/me/timezone", headers=api.auth(user))).json()
    assert zone["current"] == {"source": "inferred", "zone": None, "offset": "UTC-05:00"}
    assert zone["apps_stamping_utc"] == ["com.dexcom.stelo"]
    assert zone["records_placed"]["inferred"] == 505  # every CGM reading
    before = await daily(api, user)
    rise = before["2025-09-20"]["glucose"]["largest_rise_2h"]
    assert (rise["from_time"], rise["to_time"]) == ("11:45", "13:05")  # lunch, local time

    # the person says they live in London: the Z readings are placed there (UTC+01:00 in
    # September), the records carrying -05:00 keep it
    put = await api.http.put(
        "/v1/me/timezone", json={"zone": "Europe/London"}, headers=api.auth(user)
    )
    assert put.status_code == 202, put.text
    assert put.json()["settings"] == [{"from": None, "zone": "Europe/London"}]
    await process_all(api, user)
    moved = await daily(api, user)
    rise = moved["2025-09-20"]["glucose"]["largest_rise_2h"]
    assert (rise["from_time"], rise["to_time"]) == ("17:45", "19:05")
    zone = (await api.http.get("/v1/me/timezone", headers=api.auth(user))).json()
    assert zone["records_placed"]["set"] == 505 and zone["current"]["source"] == "set"

    # back to inference: the same numbers as before the setting
    assert (await api.http.delete("/v1/me/timezone", headers=api.auth(user))).status_code == 202
    await process_all(api, user)
    assert await daily(api, user) == before
    bad = await api.http.put("/v1/me/timezone", json={"zone": "Mars/Base"}, headers=api.auth(user))
    assert bad.status_code == 422 and "IANA" in bad.json()["detail"]


async def test_any_upload_order_and_concurrency_gives_the_same_result(
    api: ApiClient, samples: list[Path]
) -> None:
    """The real files (and a day in the middle with a record of equal id and equal
    lastModified but other content, both versions) in forward, backward and shuffled
    orders, processed one at a time or four at a time: byte-identical results."""
    rng = random.Random(7)
    orders = [samples, list(reversed(samples))]
    orders += [rng.sample(samples, len(samples)) for _ in range(2)]
    results = []
    for i, order in enumerate(orders):
        user = f"order-{i}-{rng.randrange(10**9)}"
        await upload_files(api, user, order)
        await process_all(api, user, concurrency=1 if i % 2 == 0 else 4)
        results.append(await state(api, user))
    assert results[0] and all(r == results[0] for r in results[1:])
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    for _ in range(2):  # and after deriving every day again (a definitions change)
        await rederive_user(res, user_key(user), all_days=True)
        assert await state(api, user) == results[0]


async def test_training_examples_follow_the_persons_choice(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    prefix = f"training/{user_key(user)}/"
    choice = (await api.http.get("/v1/me/consent/ai-training", headers=api.auth(user))).json()
    assert choice["granted"] is False and choice["decided_at"] is None  # off by default
    for path in samples:
        assert (await api.upload(user, path.name, path.read_bytes())).status_code == 202
    await process_all(api, user)
    assert [o async for o in res.store.list(prefix)] == []
    days = await daily(api, user)

    yes = await api.http.put(
        "/v1/me/consent/ai-training", json={"granted": True}, headers=api.auth(user)
    )
    assert yes.status_code == 200 and yes.json()["granted"] is True
    assert yes.json()["version"] == yes.json()["statement_version"] and yes.json()["decided_at"]
    await process_all(api, user)
    assert len([o async for o in res.store.list(prefix)]) == len(days)  # one per day
    assert await daily(api, user) == days

    no = await api.http.put(
        "/v1/me/consent/ai-training", json={"granted": False}, headers=api.auth(user)
    )
    assert no.json()["granted"] is False
    assert [o async for o in res.store.list(prefix)] == []  # deleted at once
    export = await api.http.get("/v1/me/export", headers=api.auth(user))
    assert export.status_code == 200 and '"type": "narrative"' in export.text  # still theirs


async def test_a_later_upload_supersedes_an_earlier_upload_narrative(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    first = [p for p in samples if p.name.startswith("StepsRecord_1758407139312")]
    await upload_files(api, user, first)
    await process_all(api, user)
    # the same snapshot again from the next run changes nothing: nothing is superseded
    again = [p for p in samples if p.name.startswith("StepsRecord_1758407245091")]
    await upload_files(api, user, again)
    await process_all(api, user)
    listing = (await api.http.get("/v1/narratives?kind=upload", headers=api.auth(user))).json()
    assert [n["superseded"] for n in listing["narratives"]] == [False, False]
    # the phone corrects the day's whole-day record (a newer version, more steps): the
    # earlier narratives are stale
    records = list(fastavro.reader(io.BytesIO(first[0].read_bytes())))
    fixed = max(records, key=lambda r: r["count"])  # Samsung's whole day, 3,933
    fixed["count"] = 5000
    fixed["metadata"]["lastModifiedTimeEpochMillis"] += 1
    response = await api.upload(
        user, "StepsRecord_1758500000000.avro", avro("StepsRecord", [fixed])
    )
    assert response.status_code == 202
    await process_all(api, user)
    listing = (await api.http.get("/v1/narratives?kind=upload", headers=api.auth(user))).json()
    assert sorted(n["superseded"] for n in listing["narratives"]) == [False, True, True]
    assert all(n["claims"] for n in listing["narratives"])
    days = await daily(api, user)
    assert days["2025-09-20"]["activity"]["steps"]["total"] == pytest.approx(5000)


async def test_verify_rechecks_every_stored_claim(
    platform: Platform, samples: list[Path], keys: services.KeySet
) -> None:
    async with running_api(platform.settings, keys) as api:
        await upload_files(api, "verified", samples)
        await process_all(api)
        ran = await asyncio.to_thread(platform.cli, "verify")
        assert ran.exit_code == 0, ran.output
        verified, total = ran.output.split(" claims")[0].split()[-1].split("/")
        assert verified == total and int(total) > 100

        res: Resources = api.app.state.resources  # type: ignore[attr-defined]
        async with res.engine.begin() as conn:  # a number that no longer matches the data
            row = (
                await conn.execute(
                    select(Narrative.id, Narrative.claims).where(Narrative.kind == "daily").limit(1)
                )
            ).one()
            claims = row.claims
            measured = ("glucose", "heart", "activity")
            numeric = next(
                c
                for c in claims
                if isinstance(c["value"], int | float) and c["metric"].startswith(measured)
            )
            numeric["value"] += 7
            await conn.execute(
                update(Narrative).where(Narrative.id == row.id).values(claims=claims)
            )
        ran = await asyncio.to_thread(platform.cli, "verify")
        assert ran.exit_code == 1 and "1 failed" in ran.output, ran.output
        assert numeric["metric"] in ran.output


async def test_tiles_journal_charts_and_export_show_the_same_numbers(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    import json

    await upload_files(api, user, samples)
    await process_all(api, user)
    listing = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
    export = (await api.http.get("/v1/me/export", headers=api.auth(user))).text.splitlines()
    exported = {
        line["date"]: line["metrics"]
        for line in map(json.loads, export)
        if line["type"] == "daily_metrics"
    }
    assert sorted(listing) == sorted(exported) and len(listing) == 3
    for day in listing:
        view = (await api.http.get(f"/v1/days/{day}", headers=api.auth(user))).json()
        tiles, series = view["metrics"], view["series"]
        claims = {c["metric"]: c["value"] for c in view["journal"]["claims"]}
        assert exported[day] == tiles  # the export is the tiles' numbers
        glucose = tiles["glucose"]["readings_summary"]
        assert (
            len(series["glucose_mg_dl"])
            == glucose["count"]
            == claims["glucose.readings_summary.count"]
        )
        values = [v for _, v in series["glucose_mg_dl"]]
        assert sum(values) / len(values) == pytest.approx(glucose["mean_mg_dl"])
        if "heart_rate" in (tiles.get("heart") or {}) and tiles["heart"]["heart_rate"]:
            samples_ = tiles["heart"]["heart_rate"]["samples"]
            assert len(series["heart_rate_bpm"]) == samples_ == claims["heart.heart_rate.samples"]
        if "steps" in (tiles.get("activity") or {}):
            total = tiles["activity"]["steps"]["total"]
            assert sum(series["steps_hourly"]) == pytest.approx(total)
            assert claims["activity.steps.total"] == pytest.approx(total)
        if "sleep" in tiles:
            light = sum(
                s["end"] - s["start"] for s in series["sleep_stages"] if s["stage"] == "LIGHT"
            )
            assert light == pytest.approx(tiles["sleep"]["main"]["stages_min"]["light"], abs=0.05)
        assert view["context"]["offset_minutes"] == -300


async def test_the_sample_week_publishes_every_narrative(api: ApiClient, user: str) -> None:
    """'Try sample data' through the worker: every day's journal and every upload's
    narrative is published (none withheld by the verifier), and the journal states the
    readings that are stored. The week's generator gives records of different types the
    same id: each is still its own record (a record's key is its type and id)."""
    loaded = await api.http.post("/v1/me/sample-data", headers=api.auth(user))
    assert loaded.status_code == 200 and loaded.json()["uploads_new"] == 35, loaded.text
    await process_all(api, user)
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        rows = (
            await session.execute(
                select(Narrative.kind, Narrative.key, Narrative.status, Narrative.claims).where(
                    Narrative.user_id == user_key(user)
                )
            )
        ).all()
    withheld = [(r.kind, r.key) for r in rows if r.status != "published"]
    assert withheld == []
    kinds = sorted(r.kind for r in rows)
    assert kinds.count("upload") == 35 and kinds.count("daily") == 8  # 19-26 Sep, local
    days = await daily(api, user)
    assert days["2025-09-22"]["glucose"]["readings_summary"]["count"] == 288  # 24 h at 5 min
    assert days["2025-09-22"]["activity"]["steps"]["total"] == 27010  # as the chart says
    journal = next(r.claims for r in rows if r.key.endswith(":2025-09-22"))
    claimed = {c["metric"]: c["value"] for c in journal}
    assert claimed["glucose.readings_summary.count"] == 288
