"""Object store: the data lake. S3 API in production, a local folder for local runs."""

from healthplatform.storage.base import ObjectInfo, ObjectStore, ObjectStoreError
from healthplatform.storage.factory import create_object_store

__all__ = ["ObjectInfo", "ObjectStore", "ObjectStoreError", "create_object_store"]
