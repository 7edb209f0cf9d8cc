"""Issue 17, items 1 and 4: hostile-but-valid files and extreme values get a clear 4xx with a
reason, quickly, never a 500, and nothing is stored. (The live-probe version, against a real
server process, is tests/security/test_hostile_files.py.)"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from tests.conftest import ApiClient
from tests.integration.test_api_uploads import count_objects
from tests.support.hostile_avro import HOSTILE, ODD, container, encode, ours, zz
from tests.support.hostile_avro import _extreme_times as extreme_times
from tests.support.hostile_avro import _nested as nested
from tests.support.hostile_avro import _time_as_string as time_as_string

pytestmark = pytest.mark.integration

REFUSED = {400, 413, 415, 422}


async def _refused(api: ApiClient, user: str, data: bytes, name: str = "x.avro") -> str:
    started = time.monotonic()
    response = await api.upload(user, name, data)
    elapsed = time.monotonic() - started
    assert response.status_code in REFUSED, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert elapsed < 5, f"answered after {elapsed:.1f} s"
    assert await count_objects(api, user) == 0
    return str(detail)


@pytest.mark.parametrize("value", [2**62, -(2**62)])
async def test_extreme_time_epoch_millis_is_422(api: ApiClient, user: str, value: int) -> None:
    records = [r | {"timeEpochMillis": value} for r in _glucose(1)]
    data = container(ours("BloodGlucoseRecord"), [(1, encode(ours("BloodGlucoseRecord"), records))])
    response = await api.upload(user, "x.avro", data)
    assert response.status_code == 422, response.text
    assert "timeEpochMillis" in response.json()["detail"]


async def test_time_epoch_millis_declared_as_string_is_422(api: ApiClient, user: str) -> None:
    response = await api.upload(user, "x.avro", time_as_string())
    assert response.status_code == 422, response.text
    assert "timeEpochMillis" in response.json()["detail"]


async def test_schema_of_100000_brackets_is_4xx(api: ApiClient, user: str) -> None:
    await _refused(api, user, container(b"[" * 100_000, [(1, b"\x00")]))


async def test_schema_nested_2000_levels_is_4xx(api: ApiClient, user: str) -> None:
    schema = ours("StepsRecord")
    schema["fields"][0]["type"] = "__X__"
    text = json.dumps(schema).replace('"__X__"', nested(2000, "long"))
    detail = await _refused(api, user, container(text, [(1, b"\x00")]))
    assert "nest" in detail or "deep" in detail


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_extreme_days_are_not_500(api: ApiClient, user: str, day: str) -> None:
    response = await api.http.get(f"/v1/days/{day}", headers=api.auth(user))
    assert response.status_code in (400, 404, 422), response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_file_is_refused_quickly(api: ApiClient, user: str, case: str) -> None:
    await _refused(api, user, HOSTILE[case](random.Random(case)))


@pytest.mark.parametrize("case", sorted(ODD))
async def test_odd_but_harmless_file_is_not_a_server_error(
    api: ApiClient, user: str, case: str
) -> None:
    for seed in range(4):
        response = await api.upload(user, "x.avro", ODD[case](random.Random(seed)))
        assert response.status_code in REFUSED | {202}, response.text


async def test_every_extreme_time_is_refused(api: ApiClient, user: str) -> None:
    rng = random.Random(17)
    for _ in range(6):
        await _refused(api, user, extreme_times(rng))


def _glucose(n: int) -> list[dict]:  # type: ignore[type-arg]
    from healthplatform.healthconnect.synth import synthetic_records

    return synthetic_records("BloodGlucoseRecord", n)


def test_block_count_of_2_to_62_encodes_as_a_long() -> None:
    assert zz(2**62) == b"\x80" * 8 + b"\x80\x01"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_extreme_days_of_a_person_with_data(
    api: ApiClient, user: str, samples: list[Path], day: str
) -> None:
    from tests.integration.test_etl import process_all, upload_files

    await upload_files(api, user, samples[:3])
    await process_all(api, user)
    listed = await api.http.get("/v1/days", headers=api.auth(user))
    assert listed.status_code == 200 and listed.json()["days"], listed.text
    response = await api.http.get(f"/v1/days/{day}", headers=api.auth(user))
    assert response.status_code in (400, 404, 422), response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "case", ["zero-size fixed metadata (issue 17)", "120M deflated booleans (issue 17)"]
)
async def test_the_etl_worker_reads_stored_files_under_the_same_bounds(
    api: ApiClient, user: str, case: str
) -> None:
    """A stored object that never passed validation (replaced in the bucket, or stored by
    an older version) is quarantined with the reason, quickly, instead of freezing a worker."""
    from tests.integration.test_etl import process_all

    data = container(ours("StepsRecord"), [(2, encode(ours("StepsRecord"), _steps(2)))])
    response = await api.upload(user, "StepsRecord_1.avro", data)
    assert response.status_code == 202, response.text
    body = response.json()
    store = api.app.state.resources.store  # type: ignore[attr-defined]
    await store.put(body["object_key"], HOSTILE[case](random.Random(0)), "avro/binary")
    started = time.monotonic()
    await process_all(api, user, timeout=60)
    assert time.monotonic() - started < 30
    status = (
        await api.http.get(f"/v1/upload/status/{body['correlation_id']}", headers=api.auth(user))
    ).json()
    assert status["status"] == "quarantined", status
    assert "items" in status["error"] or "no bytes" in status["error"], status


def _steps(n: int) -> list[dict]:  # type: ignore[type-arg]
    from healthplatform.healthconnect.synth import synthetic_records

    return synthetic_records("StepsRecord", n)
