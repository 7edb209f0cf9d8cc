"""The narrative engine end to end: API -> outbox -> (relay -> RabbitMQ) -> worker."""

from __future__ import annotations

import asyncio
import io
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from sqlalchemy import func, or_, select, text, update

from healthplatform.core.identity import user_key
from healthplatform.db.models import DailyMetrics, Narrative, PersonJob, Upload
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.worker import Worker
from healthplatform.events.relay import OutboxRelay
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records
from healthplatform.runtime import Resources
from healthplatform.settings import EventsBackend
from tests.conftest import ApiClient

pytestmark = pytest.mark.integration


async def process_all(
    api: ApiClient, *users: str, timeout: float = 120, concurrency: int | None = None
) -> None:
    """Run relay (broker mode) and worker until no upload is queued or processing.

    With ``users``, pending events of other users (left by API tests that never ran a
    worker) are set aside first, so a test waits only for its own uploads."""
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    settings = res.settings
    if concurrency is not None:
        settings = settings.model_copy(update={"etl_concurrency": concurrency})
    if users:
        await set_aside_other_users(res, {user_key(u) for u in users})
    stop = asyncio.Event()
    tasks = [asyncio.create_task(Worker.from_settings(settings, res).run(stop))]
    if settings.events_backend is EventsBackend.rabbitmq:
        relay = OutboxRelay.from_settings(res.sessions, settings, poll_interval=0.05)
        tasks.append(asyncio.create_task(relay.run(stop)))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            async with res.sessions() as session:
                busy = (
                    await session.execute(
                        select(func.count()).where(Upload.status.in_(["queued", "processing"]))
                    )
                ).scalar_one()
                # a person's days asked to be derived again (zone, consent) and not yet done
                waiting = (
                    await session.execute(
                        select(func.count()).where(
                            or_(
                                PersonJob.done_at.is_(None),
                                PersonJob.done_at < PersonJob.requested_at,
                            )
                        )
                    )
                ).scalar_one()
            if busy == 0 and waiting == 0:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("uploads or person jobs still waiting after timeout")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def set_aside_other_users(res: Resources, keep: set[str]) -> None:

    from healthplatform.db.models import OutboxEvent

    async with res.sessions() as session:
        pending = (
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.payload).where(OutboxEvent.status == "pending")
            )
        ).all()
        others = [i for i, payload in pending if payload.get("user_id") not in keep]
        if others:
            await session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(others)).values(status="done")
            )
            await session.execute(
                update(Upload)
                .where(Upload.user_id.not_in(keep), Upload.status.in_(["queued", "processing"]))
                .values(status="failed", error="set aside by a test")
            )
        await session.execute(  # their events are set aside: nothing will complete the jobs
            update(PersonJob)
            .where(PersonJob.user_id.not_in(keep))
            .values(done_at=PersonJob.requested_at)
        )
        await session.commit()


async def upload_files(api: ApiClient, user: str, paths: list[Path]) -> list[dict[str, Any]]:
    """Upload the files for a person who opted in to AI training (so that training
    examples are written and checked)."""
    await api.opt_in(user)
    out = []
    for path in paths:
        response = await api.upload(user, path.name, path.read_bytes())
        assert response.status_code == 202, response.text
        out.append(response.json())
    return out


async def daily(api: ApiClient, user: str) -> dict[str, dict[str, Any]]:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        rows = (
            (
                await session.execute(
                    select(DailyMetrics).where(DailyMetrics.user_id == user_key(user))
                )
            )
            .scalars()
            .all()
        )
    return {r.local_date.isoformat(): r.metrics for r in rows}


async def journals(api: ApiClient, user: str) -> dict[str, str]:
    listing = (await api.http.get("/v1/narratives?limit=366", headers=api.auth(user))).json()
    return {n["date"]: n["text"] for n in listing["narratives"]}


def records_of(paths: list[Path], prefix: str) -> dict[str, dict[str, Any]]:
    """Independent decode + dedup (newest lastModified wins) of the sample files."""
    newest: dict[str, dict[str, Any]] = {}
    for path in paths:
        if not path.name.startswith(prefix):
            continue
        for rec in fastavro.reader(io.BytesIO(path.read_bytes())):
            mid = rec["metadata"]["id"]
            if (
                mid not in newest
                or rec["metadata"]["lastModifiedTimeEpochMillis"]
                > newest[mid]["metadata"]["lastModifiedTimeEpochMillis"]
            ):
                newest[mid] = rec
    return newest


def local_day(ms: int, offset: str | None) -> str:
    sign = -1 if offset and offset.startswith("-") else 1
    minutes = 0 if offset in (None, "Z") else sign * (int(offset[1:3]) * 60 + int(offset[4:6]))
    return (datetime.fromtimestamp(ms / 1000, UTC) + timedelta(minutes=minutes)).date().isoformat()


async def test_every_sample_completes_with_correct_numbers(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    accepted = await upload_files(api, user, samples)
    await process_all(api, user)
    for body in accepted:
        status = (
            await api.http.get(
                f"/v1/upload/status/{body['correlation_id']}", headers=api.auth(user)
            )
        ).json()
        assert status["status"] == "completed", status
        assert status["narrative_preview"]
        assert status["finished_at"] is not None
    days = await daily(api, user)

    # glucose: mean and TIR per local day, computed independently from the raw files. The
    # CGM app stamps its readings "Z" while the person's other apps write their offset:
    # readings belong on the person's clock.
    worn = [
        offset
        for rec in records_of(samples, "HeartRate").values()
        if (offset := rec.get("startZoneOffsetId") or rec.get("zoneOffsetId")) not in (None, "Z")
    ]
    person_offset = statistics.mode(worn)
    assert person_offset == "-05:00"
    per_day: dict[str, list[float]] = defaultdict(list)
    for rec in records_of(samples, "BloodGlucose").values():
        assert rec["zoneOffsetId"] == "Z"
        per_day[local_day(rec["timeEpochMillis"], person_offset)].append(
            rec["levelInMilligramsPerDeciliter"]
        )
    checked = 0
    for day, values in per_day.items():
        glucose = days[day]["glucose"]
        assert glucose["coverage"]["readings"] == len(values)
        assert glucose["readings_summary"]["mean_mg_dl"] == pytest.approx(statistics.fmean(values))
        if len(values) < 0.7 * 288:  # a partial day: no invented statistics
            assert glucose["status"] == "insufficient data"
            assert glucose["mean_mg_dl"] is None
            continue
        assert glucose["mean_mg_dl"] == pytest.approx(statistics.fmean(values))
        in_range = sum(70 <= v <= 180 for v in values) / len(values) * 100
        assert glucose["tir_70_180_pct"] == pytest.approx(in_range)
        checked += 1
    assert checked == 1  # on the person's clock only 2025-09-20 has >= 70 % of readings

    # narratives are readable through the API, every day's journal was verified and
    # published, and the glucose text quotes the computed mean through a claim
    every = (await api.http.get("/v1/narratives", headers=api.auth(user))).json()
    assert every["pagination"]["total"] == len(days)
    listing = (await api.http.get("/v1/narratives?domain=glucose", headers=api.auth(user))).json()
    assert listing["pagination"]["total"] >= 2
    full = next(n for n in listing["narratives"] if n["metrics"]["glucose"]["status"] == "ok")
    mean = next(c for c in full["claims"] if c["metric"] == "glucose.mean_mg_dl")
    assert mean["value"] == pytest.approx(full["metrics"]["glucose"]["mean_mg_dl"])
    assert f"mean {mean['text']}" in full["statistical"] and "Sleep" not in full["text"]
    assert all(c["domain"] == "glucose" for c in full["claims"])
    uploads = (await api.http.get("/v1/narratives?kind=upload", headers=api.auth(user))).json()
    assert uploads["pagination"]["total"] == len(samples)


async def test_overlapping_snapshots_do_not_double_count(
    api: ApiClient, samples: list[Path]
) -> None:
    """Same-day snapshots overlap: one or both uploaded give identical daily totals, and the
    order of uploads does not matter."""
    first_day = [p for p in samples if p.name.endswith("_1758407139312.avro")]
    second = [p for p in samples if p.name.endswith("_1758407245091.avro")]
    third = [p for p in samples if p.name.endswith("_1758494067274.avro")]
    one, both, forward, backward = (f"u-{uuid.uuid4().hex}" for _ in range(4))
    await upload_files(api, one, first_day)
    await upload_files(api, both, first_day + second)
    await upload_files(api, forward, first_day + second + third)
    await upload_files(api, backward, third + second + first_day)
    await process_all(api, one, both, forward, backward)
    d_one, d_both = await daily(api, one), await daily(api, both)
    assert d_one and d_one == d_both
    d_forward, d_backward = await daily(api, forward), await daily(api, backward)
    assert d_forward == d_backward
    assert await journals(api, forward) == await journals(api, backward)  # text too
    # Steps on 2025-09-20 come as two overlapping records (00:00-24:00: 3933 steps and
    # 04:00-24:00: 2517); counting both would double count, the full-day record is used.
    assert d_forward["2025-09-20"]["activity"]["steps"]["total"] == pytest.approx(3933)
    assert d_forward["2025-09-21"]["activity"]["steps"]["total"] == pytest.approx(3615)


async def test_redelivery_changes_nothing(api: ApiClient, user: str, samples: list[Path]) -> None:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    accepted = await upload_files(api, user, samples[:6])
    await process_all(api, user)

    async def snapshot() -> tuple[int, int, int, list[str], dict[str, Any]]:
        async with res.sessions() as session:
            counts = [
                (
                    await session.execute(
                        select(func.count()).where(model.user_id == user_key(user))
                    )
                ).scalar_one()
                for model in (ObservationRow, Narrative, DailyMetrics)
            ]
        keys = sorted([o.key async for o in res.store.list(f"training/{user_key(user)}/")])
        return counts[0], counts[1], counts[2], keys, await daily(api, user)

    before = await snapshot()
    from healthplatform.etl.pipeline import process_upload

    for body in accepted:  # the same events again, as a broker would redeliver them
        outcome = await process_upload(res, uuid.UUID(body["correlation_id"]))
        assert outcome.status == "skipped"
    async with res.sessions() as session:  # and forced reprocessing of completed uploads
        for body in accepted:
            upload = await session.get(Upload, uuid.UUID(body["correlation_id"]))
            assert upload is not None
            upload.status = "queued"
        await session.commit()
    for body in accepted:
        await process_upload(res, uuid.UUID(body["correlation_id"]))
    assert await snapshot() == before
    assert len(before[3]) == before[2]  # one training example per day, no duplicates


async def test_missing_object_marks_upload_failed(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    [body] = await upload_files(api, user, samples[:1])
    await res.store.delete(body["object_key"])
    await process_all(api, user)
    status = (
        await api.http.get(f"/v1/upload/status/{body['correlation_id']}", headers=api.auth(user))
    ).json()
    assert status["status"] == "failed"
    assert "missing" in status["error"]


def avro(record_type: str, records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(record_types()[record_type].schema), records)
    return buf.getvalue()


async def test_malformed_records_are_counted_not_fatal(api: ApiClient, user: str) -> None:
    records = synthetic_records("BloodGlucoseRecord", 20, seed=7)
    records[3]["metadata"]["id"] = ""  # no Health Connect id
    records[5]["timeEpochMillis"] = 10**16  # beyond any calendar
    response = await api.upload(
        user, "BloodGlucoseRecord_1.avro", avro("BloodGlucoseRecord", records)
    )
    assert response.status_code == 202
    await process_all(api, user)
    status = (
        await api.http.get(
            f"/v1/upload/status/{response.json()['correlation_id']}", headers=api.auth(user)
        )
    ).json()
    assert status["status"] == "completed", status
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        upload = await session.get(Upload, uuid.UUID(response.json()["correlation_id"]))
    assert upload is not None and upload.report is not None
    assert (upload.report["records"], upload.report["valid"], upload.report["malformed"]) == (
        20,
        18,
        2,
    )


async def test_every_record_type_is_processed(api: ApiClient, user: str) -> None:
    bodies = []
    for i, record_type in enumerate(sorted(record_types())):
        data = avro(record_type, synthetic_records(record_type, 12, seed=i))
        response = await api.upload(user, f"{record_type}_1.avro", data)
        assert response.status_code == 202, response.text
        bodies.append(response.json())
    await process_all(api, user)
    for body in bodies:
        status = (
            await api.http.get(
                f"/v1/upload/status/{body['correlation_id']}", headers=api.auth(user)
            )
        ).json()
        assert status["status"] == "completed", (body["record_type"], status.get("error"))


async def test_export_and_erase_cover_derived_data(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    import json

    await upload_files(api, user, samples[:5])
    await process_all(api, user)
    export = await api.http.get("/v1/me/export", headers=api.auth(user))
    assert export.status_code == 200
    lines = [json.loads(line) for line in export.text.splitlines()]
    kinds = {line["type"] for line in lines}
    assert {"export", "upload", "daily_metrics", "narrative"} <= kinds
    assert sum(line["type"] == "upload" for line in lines) == 5
    erased = (await api.http.delete("/v1/me/data", headers=api.auth(user))).json()
    assert erased["uploads_deleted"] == 5 and erased["derived_rows_deleted"] > 0
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    assert [o async for o in res.store.list(f"training/{user_key(user)}/")] == []
    again = await api.http.get("/v1/me/export", headers=api.auth(user))
    assert [json.loads(x)["type"] for x in again.text.splitlines()] == ["export"]


async def test_narratives_query_validation(api: ApiClient, user: str) -> None:
    bad = [
        "/v1/narratives?from=2025-09-20&to=2025-09-01",
        "/v1/narratives?from=2020-01-01&to=2025-01-01",
        "/v1/narratives?domain=astrology",
        "/v1/narratives?kind=weekly",
        "/v1/narratives?from=notadate",
    ]
    for url in bad:
        response = await api.http.get(url, headers=api.auth(user))
        assert response.status_code in (400, 422), url


async def test_day_view_series(api: ApiClient, user: str, samples: list[Path]) -> None:
    await upload_files(api, user, samples)
    await process_all(api, user)
    days = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
    assert "2025-09-20" in days
    view = (await api.http.get("/v1/days/2025-09-20", headers=api.auth(user))).json()
    series = view["series"]
    assert view["journal"]["statistical"]
    assert len(series["glucose_mg_dl"]) == view["metrics"]["glucose"]["coverage"]["readings"]
    assert all(0 <= minute < 1440 for minute, _ in series["glucose_mg_dl"])
    assert series["heart_rate_bpm"] and series["sleep_stages"]
    # two apps recorded the night: the plot shows the session the metrics used
    asleep = sum(s["end"] - s["start"] for s in series["sleep_stages"] if s["stage"] != "AWAKE")
    assert asleep == pytest.approx(view["metrics"]["sleep"]["total_sleep_min"], abs=0.5)
    assert {s["stage"] for s in series["sleep_stages"]} <= {
        "AWAKE",
        "LIGHT",
        "DEEP",
        "REM",
        "SLEEPING",
        "OUT_OF_BED",
        "UNKNOWN",
    }
    # the plot counts what the metric counts (overlapping records of two apps resolved)
    assert sum(series["steps_hourly"]) == pytest.approx(3933, abs=0.05)
    missing = await api.http.get("/v1/days/2001-01-01", headers=api.auth(user))
    assert missing.status_code == 404
    other = await api.http.get("/v1/days/2025-09-20", headers=api.auth("someone-else"))
    assert other.status_code == 404


async def test_stuck_uploads_get_a_fresh_event(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    """A broker that lost its messages (RabbitMQ without a disk) leaves uploads queued:
    housekeeping gives them a fresh event, once per period, and they complete once."""

    from healthplatform.db.models import OutboxEvent
    from healthplatform.etl import person_jobs
    from healthplatform.ops.housekeeping import requeue_stuck

    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    [body] = await upload_files(api, user, samples[:1])
    upload_id = uuid.UUID(body["correlation_id"])
    async with res.sessions() as session:  # the original event is gone with the broker
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.status == "pending").values(status="published")
        )
        await session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(updated_at=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
    assert await requeue_stuck(res, 900) >= 1
    assert await requeue_stuck(res, 900) == 0  # not again within the period
    # the person's opt-in asked for their days to be derived: that event was lost too
    async with res.sessions() as session:
        await session.execute(
            update(PersonJob)
            .where(PersonJob.user_id == user_key(user))
            .values(requested_at=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
    assert await person_jobs.requeue_stale(res.engine, 900) >= 1
    assert await person_jobs.requeue_stale(res.engine, 900) == 0
    async with res.sessions() as session:
        events = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.status == "pending")))
            .scalars()
            .all()
        )
    assert [e.payload["upload_id"] for e in events if e.payload.get("requeued")] == [str(upload_id)]
    await process_all(api, user)
    status = (await api.http.get(f"/v1/upload/status/{upload_id}", headers=api.auth(user))).json()
    assert status["status"] == "completed"


async def test_exercise_the_evening_before_covers_a_run_after_midnight(
    api: ApiClient, user: str
) -> None:
    """A session ending at 23:55 keeps heart-rate samples up to 00:10 the next day out of
    the elevated episodes (15 min recovery). The session is stored before the heart-rate
    file arrives and touches only the day before: the worker must still load it."""
    midnight = int(datetime(2025, 9, 21, tzinfo=UTC).timestamp() * 1000)
    minute = 60_000
    session = synthetic_records("ExerciseSessionRecord", 1)[0]
    session.update(
        startTimeEpochMillis=midnight - 55 * minute,
        endTimeEpochMillis=midnight - 5 * minute,
        startZoneOffsetId="Z",
        endZoneOffsetId="Z",
    )
    session["metadata"]["id"] = f"exercise-{uuid.uuid4()}"
    heart = synthetic_records("HeartRateRecord", 1)[0]
    heart.update(
        startTimeEpochMillis=midnight,
        endTimeEpochMillis=midnight + 10 * minute,
        startZoneOffsetId="Z",
        endZoneOffsetId="Z",
        samples=[
            {"timeEpochMillis": midnight + m * minute, "beatsPerMinute": 130} for m in range(11)
        ],
    )
    heart["metadata"]["id"] = f"heart-{uuid.uuid4()}"
    for record_type, record in (("ExerciseSessionRecord", session), ("HeartRateRecord", heart)):
        response = await api.upload(user, f"{record_type}_1.avro", avro(record_type, [record]))
        assert response.status_code == 202, response.text
        await process_all(api, user)  # one after the other: the session is stored first
    day = (await daily(api, user))["2025-09-21"]
    assert day["heart"]["heart_rate"]["max_bpm"] == 130
    assert day["heart"]["elevated_episodes"] == []


@pytest.mark.parametrize("settings", ["production"], indirect=True)  # PostgreSQL's locks
async def test_an_event_for_a_busy_person_waits_without_claiming(api: ApiClient, user: str) -> None:
    """While a batch of the person's holds their lock, the worker with the event for
    another of their uploads waits for the lock without having claimed (written) anything:
    the batch takes that upload (claiming it first split a year's backlog into batches
    deriving the same days again), and no row it might want is held by a waiting worker
    (that deadlocked: bench-year logged "deadlock detected" retries)."""
    from healthplatform.etl import pipeline
    from healthplatform.etl import repository as repo
    from healthplatform.uploads import repository as uploads

    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    accepted = []
    for i, record_type in enumerate(("StepsRecord", "HeartRateRecord")):
        data = avro(record_type, synthetic_records(record_type, 5, seed=i))
        response = await api.upload(user, f"{record_type}_{i}.avro", data)
        assert response.status_code == 202, response.text
        accepted.append(uuid.UUID(response.json()["correlation_id"]))
    first, second = accepted
    async with res.engine.connect() as batch:
        await batch.begin()
        await repo.lock_user(batch, user_key(user))
        waiter = asyncio.create_task(pipeline.process_upload(res, second))
        waiting: list[Any] = []
        for _ in range(100):  # the event's worker gets to the person's lock and waits
            await asyncio.sleep(0.05)
            async with res.engine.connect() as probe:
                waiting = list(
                    await probe.execute(
                        text(
                            "SELECT backend_xid IS NULL FROM pg_stat_activity WHERE "
                            "datname = current_database() AND wait_event = 'advisory'"
                        )
                    )
                )
            if waiting:
                break
        assert waiting == [(True,)], waiting  # waiting, and nothing written (no xid)
        assert not waiter.done()
        taken = await asyncio.wait_for(uploads.take_queued(batch, [first, second]), 10)
        assert taken == {first, second}  # both still queued: the batch gets them
        await batch.execute(update(Upload).where(Upload.id.in_(taken)).values(status="completed"))
        await batch.commit()
    assert (await asyncio.wait_for(waiter, 30)).status == "skipped"  # the batch had it
