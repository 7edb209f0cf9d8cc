"""Wire shapes of the upload API (compatible with the previous health service)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from healthplatform.db.models import Upload


class UploadAccepted(BaseModel):
    status: str = "accepted"
    correlation_id: uuid.UUID
    object_key: str
    record_type: str
    record_count: int
    file_size_bytes: int
    sha256: str
    upload_timestamp: datetime
    processing_status: str
    duplicate: bool = Field(description="True when the same bytes were uploaded before.")

    @classmethod
    def of(cls, upload: Upload, duplicate: bool) -> UploadAccepted:
        return cls(
            correlation_id=upload.id,
            object_key=upload.object_key,
            record_type=upload.record_type,
            record_count=upload.record_count,
            file_size_bytes=upload.file_size_bytes,
            sha256=upload.sha256,
            upload_timestamp=upload.created_at,
            processing_status=upload.status,
            duplicate=duplicate,
        )


class UploadStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    correlation_id: uuid.UUID = Field(validation_alias="id")
    status: str
    record_type: str
    record_count: int
    file_name: str
    file_size_bytes: int
    sha256: str
    object_key: str
    description: str | None
    data_start: datetime | None
    data_end: datetime | None
    upload_timestamp: datetime = Field(validation_alias="created_at")
    updated_at: datetime
    processing_started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    narrative_preview: str | None
    attempts: int


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int
    has_more: bool


class UploadHistory(BaseModel):
    uploads: list[UploadStatusOut]
    pagination: Pagination
