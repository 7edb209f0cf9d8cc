"""Tables of the health database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

BigIntId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class UploadStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    quarantined = "quarantined"


class Upload(Base):
    """One accepted file. ``id`` is the correlation id returned to the client."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("user_id", "sha256", name="uq_uploads_user_sha256"),
        Index("ix_uploads_user_created", "user_id", "created_at"),
        CheckConstraint(
            "status IN ('queued','processing','completed','failed','quarantined')",
            name="ck_uploads_status",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(512), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1000))
    file_size_bytes: Mapped[int] = mapped_column(BigInteger)
    record_count: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(16))
    data_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=UploadStatus.queued.value)
    error: Mapped[str | None] = mapped_column(Text)
    narrative_preview: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxStatus(StrEnum):
    pending = "pending"  # written with the business change, not yet delivered
    published = "published"  # handed to RabbitMQ (broker mode)
    processing = "processing"  # claimed by a consumer (database-queue mode)
    done = "done"  # consumed (database-queue mode)
    dead = "dead"  # delivery limit reached (database-queue mode)


class OutboxEvent(Base):
    """Transactional outbox. In database-queue mode this table is the queue itself."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_status_available", "status", "available_at", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Observation(Base):
    """One Health Connect record per user, deduplicated on its ``metadata.id`` (the newest
    ``lastModifiedTimeEpochMillis`` wins, then the larger ``content_hash``).

    ``record_offset`` is the offset the record carries; ``offset_minutes`` and the local
    dates are where it is *placed* (``zone_source``: record, inferred, set or utc)."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("user_id", "record_type", "hc_id", name="uq_observations_record"),
        Index("ix_observations_user_day", "user_id", "local_date"),
        Index("ix_observations_user_end_day", "user_id", "end_local_date"),
        Index("ix_observations_user_start", "user_id", "start_ms"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(64))
    hc_id: Mapped[str] = mapped_column(String(128))
    last_modified_ms: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[int] = mapped_column(BigInteger, default=0)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    end_offset_minutes: Mapped[int | None] = mapped_column(Integer)
    record_offset: Mapped[int | None] = mapped_column(Integer)
    record_end_offset: Mapped[int | None] = mapped_column(Integer)
    zone_source: Mapped[str] = mapped_column(String(8), default="record")
    origin: Mapped[str | None] = mapped_column(String(255))
    local_date: Mapped[date] = mapped_column(Date)
    end_local_date: Mapped[date] = mapped_column(Date)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    upload_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # the days of the version this one replaced (None until a newer version arrives): the
    # upsert returns them, since the days a record left must be derived again
    replaced_local_date: Mapped[date | None] = mapped_column(Date)
    replaced_end_local_date: Mapped[date | None] = mapped_column(Date)


class ZoneSetting(Base):
    """The person's time-zone history as they set it: ``zone`` (IANA name, or ``auto`` for
    inference) from ``valid_from_ms`` (None: since always) until the next entry."""

    __tablename__ = "zone_settings"
    __table_args__ = (Index("ix_zone_settings_user", "user_id", "valid_from_ms"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_from_ms: Mapped[int | None] = mapped_column(BigInteger)
    zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ZoneEvidence(Base):
    """What the person's records say about their zone: in this clock hour (since 1970),
    this app (``""`` unknown) wrote this offset. One row per distinct fact."""

    __tablename__ = "zone_evidence"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    offset_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)


class UtcStampingOrigin(Base):
    """An app found writing ``Z`` while another app of the same person wrote a local
    offset in the same hour: its ``Z`` records are placed by the person's zone."""

    __tablename__ = "zone_origins"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonJob(Base):
    """When the person last asked for their days to be derived again (a zone setting, a
    consent), and which request the worker last completed: pending while they differ."""

    __tablename__ = "person_jobs"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """A person's recorded choice for one purpose (``ai_training``); the newest row wins."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_user_purpose", "user_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str] = mapped_column(String(32))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyMetrics(Base):
    """Clinical metrics of one user's local calendar day, all domains."""

    __tablename__ = "daily_metrics"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    definitions_version: Mapped[str] = mapped_column(String(32))
    source_upload_ids: Mapped[list[str]] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training_key: Mapped[str | None] = mapped_column(String(512))
    series: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the day view's charts
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # zone, data extent
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Narrative(Base):
    """A narrative: ``daily`` (the journal of one local day) or ``upload`` (one file)."""

    __tablename__ = "narratives"
    __table_args__ = (
        UniqueConstraint("key", name="uq_narratives_key"),
        Index("ix_narratives_user_day", "user_id", "kind", "local_date"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    local_date: Mapped[date | None] = mapped_column(Date)
    upload_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    domains: Mapped[list[str]] = mapped_column(JSON)
    statistical: Mapped[str] = mapped_column(Text)
    structural: Mapped[str] = mapped_column(Text)
    semantic: Mapped[str] = mapped_column(Text)
    claims: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    sections: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="published")  # or withheld
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    definitions_version: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssistantAudit(Base):
    """Every call an AI assistant made on a person's data through MCP (docs/assistant.md):
    the person reads it at /v1/me/assistant-audit."""

    __tablename__ = "assistant_audit"
    __table_args__ = (Index("ix_assistant_audit_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error
    detail: Mapped[str | None] = mapped_column(Text)
    token_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int] = mapped_column(Integer)
