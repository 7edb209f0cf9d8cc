"""Hostile and malformed uploads: each gets a clear 4xx and nothing is stored."""

from __future__ import annotations

import io
import json
import uuid
import zlib
from pathlib import Path

import fastavro
import pytest

from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_file, synthetic_records
from tests.conftest import ApiClient
from tests.integration.test_api_uploads import count_objects
from tests.support.hostile_avro import zz

pytestmark = pytest.mark.integration


def avro_with_schema(schema: dict, records: list[dict], codec: str = "null") -> bytes:
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), records, codec=codec)
    return buf.getvalue()


def deflate_bomb() -> bytes:
    """A valid header and one deflate block that inflates to ~200 MB of zeros."""
    good = synthetic_file("StepsRecord", 1, codec="deflate")
    reader = fastavro.reader(io.BytesIO(good))
    header_end = good.index(reader._header["sync"]) + 16  # type: ignore[attr-defined]
    sync = reader._header["sync"]  # type: ignore[attr-defined]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    payload = b"".join(compressor.compress(chunk) for _ in range(200)) + compressor.flush()

    return good[:header_end] + zz(1000) + zz(len(payload)) + payload + sync


def other_namespace() -> bytes:
    schema = json.loads(json.dumps(record_types()["StepsRecord"].schema))
    schema["namespace"] = "com.evil"
    return avro_with_schema(schema, synthetic_records("StepsRecord", 2))


def unknown_type() -> bytes:
    schema = json.loads(json.dumps(record_types()["StepsRecord"].schema))
    schema["name"] = "AvroMindReadingRecord"
    return avro_with_schema(schema, synthetic_records("StepsRecord", 2))


def zero_records() -> bytes:
    return avro_with_schema(record_types()["StepsRecord"].schema, [])


def corrupt_block(sample: bytes) -> bytes:
    data = bytearray(sample)
    middle = len(data) // 2
    data[middle : middle + 40] = b"\xff" * 40
    return bytes(data)


CASES = {
    "not avro": (lambda s: b"PK\x03\x04 this is a zip file" * 10, "x.avro", 415),
    "wrong magic": (lambda s: b"Obj\x02" + s[4:], "StepsRecord_1.avro", 415),
    "empty": (lambda s: b"", "StepsRecord_1.avro", 400),
    "truncated": (lambda s: s[: len(s) // 2], "BloodGlucoseRecord_1.avro", 400),
    "header only": (lambda s: s[:200], "BloodGlucoseRecord_1.avro", 400),
    "zero records": (lambda s: zero_records(), "StepsRecord_1.avro", 400),
    "corrupt block": (corrupt_block, "BloodGlucoseRecord_1.avro", 400),
    "deflate bomb": (lambda s: deflate_bomb(), "StepsRecord_1.avro", 413),
    "other namespace": (lambda s: other_namespace(), "StepsRecord_1.avro", 422),
    "unknown type": (lambda s: unknown_type(), "x.avro", 422),
    "filename/type mismatch": (lambda s: s, "StepsRecord_1758407139312.avro", 422),
    "dot-dot filename": (lambda s: s, "../../etc/passwd.avro", 400),
    "not .avro name": (lambda s: s, "BloodGlucoseRecord_1.exe", 415),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_file_is_refused_and_nothing_stored(
    api: ApiClient, user: str, samples: list[Path], case: str
) -> None:
    make, name, status = CASES[case]
    glucose = next(p for p in samples if p.name.startswith("BloodGlucose")).read_bytes()
    response = await api.upload(user, name, make(glucose))
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert await count_objects(api, user) == 0
    history = (await api.http.get("/v1/upload/history", headers=api.auth(user))).json()
    assert history["pagination"]["total"] == 0


@pytest.mark.parametrize(
    "name",
    [
        b"Blood\x01Glucose.avro",
        b"Blood\x1bGlucose.avro",
        b"a\xe2\x80\xaeovra.exe.avro",
        b"..\\..\\x.avro",
    ],
)
async def test_control_characters_in_filename(
    api: ApiClient, user: str, samples: list[Path], name: bytes
) -> None:
    """Raw multipart (clients escape these), straight from a hostile sender."""
    data = next(p for p in samples if p.name.startswith("BloodGlucose")).read_bytes()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\n\r\n'
        + data
        + b"\r\n--b--\r\n"
    )
    response = await api.http.post(
        "/v1/upload",
        content=body,
        headers={**api.auth(user), "content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400, response.text
    assert await count_objects(api, user) == 0


async def test_missing_file_field(api: ApiClient, user: str) -> None:
    response = await api.http.post(
        "/v1/upload", headers=api.auth(user), files={"document": ("a.avro", b"x")}
    )
    assert response.status_code == 400
    assert "file" in response.json()["detail"]


async def test_wrong_content_type(api: ApiClient, user: str) -> None:
    response = await api.http.post(
        "/v1/upload", content=b"Obj\x01", headers={**api.auth(user), "content-type": "avro/binary"}
    )
    assert response.status_code == 415


async def test_malformed_multipart(api: ApiClient, user: str) -> None:
    response = await api.http.post(
        "/v1/upload",
        content=b"--xyz\r\nnot a header line\r\n\r\n",
        headers={**api.auth(user), "content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 400


async def test_oversized_body_refused_by_content_length(api: ApiClient, user: str) -> None:
    limit = api.app.state.resources.settings.upload_max_bytes  # type: ignore[attr-defined]
    response = await api.http.post(
        "/v1/upload",
        content=b"",
        headers={
            **api.auth(user),
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(2 * 1024**3),
        },
    )
    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]


async def test_oversized_chunked_body_stops_at_the_limit(api: ApiClient, user: str) -> None:
    """No Content-Length: the stream is counted and cut once past the limit."""
    limit = api.app.state.resources.settings.upload_max_bytes  # type: ignore[attr-defined]
    sent = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield (
            b'--b\r\nContent-Disposition: form-data; name="file"; '
            b'filename="StepsRecord_1.avro"\r\n\r\n'
        )
        chunk = bytes(1 << 20)
        for _ in range(2048):  # would be 2 GB
            sent += len(chunk)
            yield chunk

    response = await api.http.post(
        "/v1/upload",
        content=body(),
        headers={**api.auth(user), "content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert sent <= limit + 2 * (1 << 20)


async def test_description_too_long(api: ApiClient, user: str, samples: list[Path]) -> None:
    response = await api.http.post(
        "/v1/upload",
        headers=api.auth(user),
        files={"file": (samples[0].name, samples[0].read_bytes())},
        data={"description": "x" * 5000},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer " + "a" * 10000,
    ],
)
async def test_requests_without_valid_token_get_401(
    api: ApiClient, header: str | None, samples: list[Path]
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await api.http.post(
        "/v1/upload", headers=headers, files={"file": (samples[0].name, samples[0].read_bytes())}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_refusals_carry_a_stable_code(api: ApiClient, user: str, samples: list[Path]) -> None:
    glucose = next(p for p in samples if p.name.startswith("BloodGlucose")).read_bytes()
    expected = {
        "unprocessable_file": await api.upload(user, "x.avro", b"PK\x03\x04 zip" * 10),
        "unsupported_media_type": await api.upload(user, "BloodGlucoseRecord_1.exe", glucose),
        "unauthorized": await api.http.get("/v1/upload/history"),
        "invalid_token": await api.http.get(
            "/v1/upload/history", headers={"Authorization": "Bearer not.a.token"}
        ),
        "not_found": await api.http.get(
            f"/v1/upload/status/{uuid.uuid4()}", headers=api.auth(user)
        ),
    }
    for code, response in expected.items():
        assert response.json()["code"] == code, response.text
        assert response.json()["detail"]
