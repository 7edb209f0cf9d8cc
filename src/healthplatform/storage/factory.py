"""Build the object store the settings ask for."""

from __future__ import annotations

from healthplatform.settings import ObjectStoreKind, Settings
from healthplatform.storage.base import ObjectStore
from healthplatform.storage.local import LocalObjectStore


def create_object_store(settings: Settings) -> ObjectStore:
    if settings.object_store is ObjectStoreKind.s3:
        # imported on use: aiohttp and botocore are not needed by local runs or most CLI
        # commands, and importing them costs a fifth of a second
        from healthplatform.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value(),
            secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            timeout=settings.s3_timeout_seconds,
        )
    return LocalObjectStore(settings.resolved_object_store_path)
