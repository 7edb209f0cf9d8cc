"""Both object stores honour the same contract (the S3 one against the moto server, through
the directly signed fast path and through botocore)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from healthplatform.storage.base import ObjectNotFound, ObjectStore
from healthplatform.storage.local import LocalObjectStore
from healthplatform.storage.s3 import S3ObjectStore
from tests.conftest import make_bucket

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "s3-signed", "s3-botocore"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str
) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        local = LocalObjectStore(tmp_path / "objects")
        await local.start()
        yield local
        return
    bucket = f"hp-store-{uuid.uuid4().hex[:8]}"
    make_bucket(s3_endpoint, bucket)
    signed = request.param == "s3-signed"
    s3 = S3ObjectStore(
        bucket=bucket,
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
        fast_path=signed,
    )
    s3.list_page_size = 2  # pagination with a handful of objects
    await s3.start()
    assert (s3._http is not None) == signed
    yield s3
    await s3.close()


async def test_contract(store: ObjectStore) -> None:
    keys = [f"raw/u1/Steps/2025/09/{d:02d}/{d}.avro" for d in range(1, 6)]
    for i, key in enumerate(keys):
        await store.put(key, bytes([i]) * (i + 1))
    await store.put("raw/u2/x.avro", b"other user")
    await store.put("training/u1/day=1.json", b"{}")  # "=" is percent-encoded in the signed path
    assert await store.get(keys[2]) == b"\x02\x02\x02"
    assert await store.get("training/u1/day=1.json") == b"{}"
    listed = [o async for o in store.list("raw/u1/")]
    assert [o.key for o in listed] == keys
    assert [o.size for o in listed] == [1, 2, 3, 4, 5]
    assert all(o.last_modified.tzinfo is not None for o in listed)
    await store.delete(keys[0])
    await store.delete(keys[0])  # deleting twice is fine
    with pytest.raises(ObjectNotFound):
        await store.get(keys[0])
    assert await store.delete_prefix("raw/u1/") == 4
    assert [o.key async for o in store.list("raw/")] == ["raw/u2/x.avro"]
    await store.check()


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "raw/..", ""])
async def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        await store.put(key, b"x")
