"""The upload API end to end, on the embedded backends and on the real servers."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from healthplatform.core.identity import user_key
from healthplatform.db.models import OutboxEvent
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.runtime import Resources
from tests.conftest import ApiClient

pytestmark = pytest.mark.integration


async def count_objects(api: ApiClient, sub: str) -> int:
    store = api.app.state.resources.store  # type: ignore[attr-defined]
    return len([o async for o in store.list(f"raw/{user_key(sub)}/")])


async def test_every_sample_file_is_accepted(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    for path in samples:
        response = await api.upload(user, path.name, path.read_bytes())
        assert response.status_code == 202, (path.name, response.text)
        body = response.json()
        assert body["status"] == "accepted"
        assert body["record_type"] == path.name.split("_")[0]
        assert body["processing_status"] == "queued"
        assert body["record_count"] > 0
        assert body["file_size_bytes"] == path.stat().st_size
        assert body["object_key"].startswith(f"raw/{user_key(user)}/{body['record_type']}/")
        assert user not in body["object_key"]
    assert await count_objects(api, user) == len(samples)


@pytest.mark.parametrize("record_type", sorted(record_types()))
async def test_synthetic_file_of_every_type_is_accepted(
    api: ApiClient, user: str, record_type: str
) -> None:
    data = synthetic_file(record_type, 40, codec="deflate")
    response = await api.upload(user, f"{record_type}_1758407139312.avro", data)
    assert response.status_code == 202, response.text
    assert response.json()["record_type"] == record_type
    assert response.json()["record_count"] == 40


async def test_same_bytes_twice_give_the_same_upload(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    data = samples[0].read_bytes()
    first = (await api.upload(user, samples[0].name, data)).json()
    second = (await api.upload(user, samples[0].name, data)).json()
    assert second["correlation_id"] == first["correlation_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    history = (await api.http.get("/v1/upload/history", headers=api.auth(user))).json()
    assert history["pagination"]["total"] == 1
    assert await count_objects(api, user) == 1


async def test_concurrent_identical_uploads_store_one(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    """Racing requests with the same bytes: one upload, one object, one event; the others
    are answered with it (PostgreSQL: the insert's ON CONFLICT; SQLite: the unique key)."""
    data = samples[1].read_bytes()
    responses = await asyncio.gather(*(api.upload(user, samples[1].name, data) for _ in range(6)))
    assert [r.status_code for r in responses] == [202] * 6
    bodies = [r.json() for r in responses]
    assert len({b["correlation_id"] for b in bodies}) == 1
    assert sum(not b["duplicate"] for b in bodies) == 1
    history = (await api.http.get("/v1/upload/history", headers=api.auth(user))).json()
    assert history["pagination"]["total"] == 1
    assert await count_objects(api, user) == 1
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        payloads = (await session.execute(select(OutboxEvent.payload))).scalars().all()
    assert [p["upload_id"] for p in payloads if p.get("user_id") == user_key(user)] == [
        bodies[0]["correlation_id"]
    ]


async def test_status_is_owner_only(api: ApiClient, user: str, samples: list[Path]) -> None:
    body = (await api.upload(user, samples[0].name, samples[0].read_bytes())).json()
    cid = body["correlation_id"]
    mine = await api.http.get(f"/v1/upload/status/{cid}", headers=api.auth(user))
    assert mine.status_code == 200
    assert mine.json()["status"] == "queued"
    assert mine.json()["sha256"] == body["sha256"]
    theirs = await api.http.get(f"/v1/upload/status/{cid}", headers=api.auth("someone-else"))
    assert theirs.status_code == 404
    missing = await api.http.get(f"/v1/upload/status/{uuid.uuid4()}", headers=api.auth(user))
    assert missing.status_code == 404
    bad = await api.http.get("/v1/upload/status/not-a-uuid", headers=api.auth(user))
    assert bad.status_code == 422


async def test_history_filters_and_pages(api: ApiClient, user: str, samples: list[Path]) -> None:
    for path in samples:
        await api.upload(user, path.name, path.read_bytes())
    await api.upload("other-user", samples[0].name, samples[0].read_bytes())
    headers = api.auth(user)
    page = (await api.http.get("/v1/upload/history?limit=5&offset=0", headers=headers)).json()
    assert page["pagination"] == {"total": len(samples), "limit": 5, "offset": 0, "has_more": True}
    seen = set()
    for offset in range(0, len(samples), 5):
        chunk = (
            await api.http.get(f"/v1/upload/history?limit=5&offset={offset}", headers=headers)
        ).json()
        seen.update(u["correlation_id"] for u in chunk["uploads"])
    assert len(seen) == len(samples)
    steps = (
        await api.http.get("/v1/upload/history?record_type=StepsRecord", headers=headers)
    ).json()
    assert steps["pagination"]["total"] == 3
    assert {u["record_type"] for u in steps["uploads"]} == {"StepsRecord"}
    queued = (await api.http.get("/v1/upload/history?status=queued", headers=headers)).json()
    assert queued["pagination"]["total"] == len(samples)
    future = (await api.http.get("/v1/upload/history?from_date=2999-01-01", headers=headers)).json()
    assert future["pagination"]["total"] == 0
    bad = await api.http.get("/v1/upload/history?limit=1000", headers=headers)
    assert bad.status_code == 422
    bad_status = await api.http.get("/v1/upload/history?status=bogus", headers=headers)
    assert bad_status.status_code == 422


async def test_delete_my_data_erases_only_mine(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    for path in samples[:4]:
        await api.upload(user, path.name, path.read_bytes())
    other = f"other-{uuid.uuid4().hex}"
    await api.upload(other, samples[0].name, samples[0].read_bytes())
    response = await api.http.delete("/v1/me/data", headers=api.auth(user))
    assert response.status_code == 200
    assert response.json() == {
        "status": "deleted",
        "uploads_deleted": 4,
        "derived_rows_deleted": 0,
        "objects_deleted": 4,
    }
    history = (await api.http.get("/v1/upload/history", headers=api.auth(user))).json()
    assert history["pagination"]["total"] == 0
    assert await count_objects(api, user) == 0
    assert await count_objects(api, other) == 1
    again = await api.upload(user, samples[0].name, samples[0].read_bytes())
    assert again.status_code == 202 and again.json()["duplicate"] is False


async def test_health_endpoints(api: ApiClient) -> None:
    assert (await api.http.get("/health/live")).json() == {"status": "ok"}
    ready = await api.http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["dependencies"]) == {"database", "object_store", "rate_limiter"}
    metrics = await api.http.get("/metrics")
    assert "hp_http_requests_total" in metrics.text


async def test_rate_limit_is_per_user(api: ApiClient, samples: list[Path]) -> None:
    res = api.app.state.resources  # type: ignore[attr-defined]
    from healthplatform.runtime import create_limiter

    res.limiter = create_limiter(
        res.settings.model_copy(
            update={
                "rate_limit_per_minute": 1,
                "rate_limit_burst": 2,
                "redis_key_prefix": f"rl-{uuid.uuid4().hex}:",
            }
        )
    )
    noisy, quiet = f"noisy-{uuid.uuid4().hex}", f"quiet-{uuid.uuid4().hex}"
    codes = [
        (await api.http.get("/v1/upload/history", headers=api.auth(noisy))).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = await api.http.get("/v1/upload/history", headers=api.auth(noisy))
    assert int(limited.headers["Retry-After"]) >= 1
    # a spoofed forwarding header does not give a fresh allowance
    spoofed = await api.http.get(
        "/v1/upload/history", headers={**api.auth(noisy), "X-Forwarded-For": "203.0.113.9"}
    )
    assert spoofed.status_code == 429
    assert (await api.http.get("/v1/upload/history", headers=api.auth(quiet))).status_code == 200
    await res.limiter.close()
