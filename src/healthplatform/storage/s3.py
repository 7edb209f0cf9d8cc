"""S3 API object store (OCI Object Storage, any S3 server). Path-style addressing, and
checksums only when required: OCI rejects aws-chunked uploads and CRC32 trailers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import quote

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

from healthplatform.storage.base import ObjectInfo, ObjectNotFound, ObjectStoreError, check_key
from healthplatform.storage.sigv4 import (
    canonical_query,
    object_url,
    parse_list_page,
    sign_request,
)


class S3ObjectStore:
    list_page_size = 1000

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        timeout: float = 5.0,
        max_connections: int = 64,
        fast_path: bool = True,
    ) -> None:
        """``fast_path``: sign object requests here instead of going through botocore
        (needs an endpoint and static credentials, as OCI's S3 API has)."""
        self.bucket = bucket
        self._endpoint_url = endpoint_url or None
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._timeout = timeout
        self._max_connections = max_connections
        self._credentials = (access_key_id, secret_access_key)
        self._region = region
        self._fast_path = fast_path

    async def start(self) -> None:
        # imported here: aioboto3 and botocore's config take ~0.5 s to import, which every
        # CLI command importing this module would pay
        import aioboto3
        from botocore.config import Config

        session = aioboto3.Session(
            aws_access_key_id=self._credentials[0] or None,
            aws_secret_access_key=self._credentials[1] or None,
            region_name=self._region,
        )
        config = Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=self._max_connections,
        )
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            session.client("s3", endpoint_url=self._endpoint_url, config=config)
        )
        if self._fast_path and self._endpoint_url and all(self._credentials):
            # hot path: uploads PUT through one pooled HTTP session, signed directly
            self._http = await self._stack.enter_async_context(
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=self._max_connections),
                    timeout=aiohttp.ClientTimeout(total=self._timeout * 2, connect=self._timeout),
                )
            )

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self._http = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise ObjectStoreError("object store not started")
        return self._client

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        if self._http is not None:
            await self._fast_put(key, data, content_type)
            return
        try:
            await self.client.put_object(
                Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"put {key}: {exc}") from exc

    async def _signed(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request signed here (SigV4) over the pooled session: (status, body)."""
        assert self._http is not None
        signed = sign_request(
            method=method,
            url=url,
            headers=headers or {},
            payload_sha256=hashlib.sha256(body).hexdigest(),
            access_key=self._credentials[0],
            secret_key=self._credentials[1],
            region=self._region,
        )
        try:
            async with self._http.request(method, url, data=body or None, headers=signed) as r:
                return r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ObjectStoreError(f"{method} {url}: {exc}") from exc

    def _url(self, key: str) -> str:
        assert self._endpoint_url is not None
        return object_url(self._endpoint_url, self.bucket, check_key(key))

    def _bucket_url(self, query: dict[str, str]) -> str:
        assert self._endpoint_url is not None
        bucket = f"{self._endpoint_url.rstrip('/')}/{quote(self.bucket, safe='')}"
        return f"{bucket}?{canonical_query(query)}"

    async def _fast_put(self, key: str, data: bytes, content_type: str) -> None:
        status, body = await self._signed(
            "PUT", self._url(key), data, {"content-type": content_type}
        )
        if status != 200:
            raise ObjectStoreError(f"put {key}: HTTP {status} {body[:300]!r}")

    async def get(self, key: str) -> bytes:
        if self._http is not None:
            status, body = await self._signed("GET", self._url(key))
            if status == 404:
                raise ObjectNotFound(key)
            if status != 200:
                raise ObjectStoreError(f"get {key}: HTTP {status} {body[:300]!r}")
            return body
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=check_key(key))
            async with response["Body"] as stream:
                data: bytes = await stream.read()
                return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from exc
            raise ObjectStoreError(f"get {key}: {exc}") from exc
        except (BotoCoreError, OSError) as exc:
            raise ObjectStoreError(f"get {key}: {exc}") from exc

    async def delete(self, key: str) -> None:
        if self._http is not None:
            status, body = await self._signed("DELETE", self._url(key))
            if status not in (200, 204, 404):
                raise ObjectStoreError(f"delete {key}: HTTP {status} {body[:300]!r}")
            return
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"delete {key}: {exc}") from exc

    async def delete_prefix(self, prefix: str) -> int:
        check_key(prefix.rstrip("/"))
        deleted = 0
        batch: list[dict[str, str]] = []
        async for info in self.list(prefix):
            batch.append({"Key": info.key})
            if len(batch) == 1000:
                deleted += await self._delete_batch(batch)
                batch = []
        if batch:
            deleted += await self._delete_batch(batch)
        return deleted

    async def _delete_batch(self, batch: list[dict[str, str]]) -> int:
        try:
            await self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"delete_objects: {exc}") from exc
        return len(batch)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        if self._http is not None:
            async for info in self._fast_list(prefix):
                yield info
            return
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], item["Size"], item["LastModified"])
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"list {prefix}: {exc}") from exc

    async def _fast_list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": str(self.list_page_size)}
            if token:
                query["continuation-token"] = token
            status, body = await self._signed("GET", self._bucket_url(query))
            if status != 200:
                raise ObjectStoreError(f"list {prefix}: HTTP {status} {body[:300]!r}")
            page = parse_list_page(body)
            for info in page.objects:
                yield info
            if not page.next_token:
                return
            token = page.next_token

    async def check(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"bucket {self.bucket}: {exc}") from exc
