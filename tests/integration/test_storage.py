"""Both object stores honour the same contract (the S3 one against the moto server, through
the directly signed fast path and through botocore)."""

from __future__ import annotations

import asyncio
import re
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


async def test_a_dropped_keep_alive_connection_is_retried_once() -> None:
    """A server may close a pooled connection just as the client reuses it (idle timeout):
    the request goes again on a fresh connection instead of failing. aiohttp does this for
    idempotent methods (every object request here is one); this guards that behaviour."""
    served: list[int] = []  # connection number of every answered request

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len({*served}) + 1
        answered = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            length = int(next(iter(re.findall(rb"(?i)content-length: (\d+)", head)), b"0"))
            await reader.readexactly(length)
            if number == 1 and answered == 1:
                break  # drop the kept-alive connection without an answer
            served.append(number)
            answered += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s3 = S3ObjectStore(
        bucket="b",
        endpoint_url=f"http://127.0.0.1:{port}",
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
    )
    await s3.start()
    try:
        assert await s3.get("a/1") == b"ok"
        assert await s3.get("a/2") == b"ok"  # first connection dropped: answered on a new one
        assert served == [1, 2]
    finally:
        await s3.close()
        server.close()
        await server.wait_closed()
