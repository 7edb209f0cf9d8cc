"""One settings tree for every service, read from ``HP_*`` environment variables.

The defaults run the whole platform on embedded backends (SQLite, a local folder,
the database outbox as the queue, in-process rate limits). Production points the same
settings at PostgreSQL, an S3 server, RabbitMQ and Redis. ``healthplatform settings``
prints the reference table that docs/configuration.md is generated from.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from healthplatform.core import config_docs

ENV_PREFIX = "HP_"


class ObjectStoreKind(StrEnum):
    local = "local"
    s3 = "s3"


class EventsBackend(StrEnum):
    database = "database"
    rabbitmq = "rabbitmq"


class LogFormat(StrEnum):
    json = "json"
    console = "console"


class Settings(BaseSettings):
    """Every configuration key of the platform. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- general -----------------------------------------------------------------------
    environment: str = Field("local", description="Deployment name shown in logs and traces.")
    data_dir: Path = Field(
        Path(".data"),
        description="Folder for embedded backends (SQLite file, local object store).",
    )
    log_level: str = Field("INFO", description="Python log level.")
    log_format: LogFormat = Field(
        LogFormat.console,
        description="`console` (readable text, the local default) or `json` (one object per "
        "line; production sets it).",
    )
    public_url: str = Field(
        "http://localhost:8000", description="External base URL (printed by `up`)."
    )

    # --- database ----------------------------------------------------------------------
    database_url: str = Field(
        "",
        description="SQLAlchemy async URL of the health database "
        "(`postgresql+asyncpg://...`); empty = SQLite in `data_dir`.",
    )
    database_pool_size: int = Field(10, ge=1, description="Connections per process.")
    database_connect_timeout_seconds: float = Field(
        3.0, gt=0, description="Connect timeout; a down database answers 503 within it."
    )
    database_ping_idle_seconds: float = Field(
        10.0,
        ge=0,
        description="A pooled connection idle this long is pinged before use (a failed ping "
        "invalidates the whole pool); 0 = ping on every checkout.",
    )

    # --- object store ------------------------------------------------------------------
    object_store: ObjectStoreKind = Field(
        ObjectStoreKind.local, description="`local` (a folder) or `s3`."
    )
    object_store_path: Path | None = Field(
        None, description="Folder of the local object store; default `data_dir/objects`."
    )
    s3_endpoint_url: str = Field(
        "",
        description="S3 endpoint, e.g. `https://<ns>.compat.objectstorage.<region>.oraclecloud.com`.",
    )
    s3_region: str = Field("us-east-1", description="S3 region (OCI: the home region).")
    s3_bucket: str = Field("health-data-lake", description="Data lake bucket.")
    s3_access_key_id: SecretStr = Field(SecretStr(""), description="S3 access key id.")
    s3_secret_access_key: SecretStr = Field(SecretStr(""), description="S3 secret key.")
    s3_timeout_seconds: float = Field(5.0, gt=0, description="Connect/read timeout for S3.")
    erasure_log_bucket: str = Field(
        "",
        description="Bucket of the erasure log (who was erased when; applied after every "
        "restore). Production: a bucket of its own, outside the backups; empty = the data "
        "lake under `erasure-log/`.",
    )

    # --- events --------------------------------------------------------------------------
    events_backend: EventsBackend = Field(
        EventsBackend.database,
        description="`database`: the outbox table is the queue; `rabbitmq`: a relay "
        "publishes the outbox to RabbitMQ.",
    )
    rabbitmq_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@127.0.0.1:5672/"), description="AMQP URL."
    )
    rabbitmq_exchange: str = Field("health.uploads", description="Exchange for upload events.")
    rabbitmq_queue: str = Field("etl.uploads", description="Quorum queue the ETL consumes.")
    rabbitmq_delivery_limit: int = Field(
        5, ge=1, description="Deliveries before a message is dead-lettered."
    )
    outbox_poll_interval_seconds: float = Field(
        0.2, gt=0, description="Relay poll interval when idle."
    )
    outbox_batch_size: int = Field(100, ge=1, description="Events published per relay batch.")
    outbox_retention_hours: int = Field(
        168, ge=1, description="Published/done outbox rows are deleted after this."
    )
    requeue_stuck_after_seconds: int = Field(
        900,
        ge=60,
        description="Uploads queued/processing this long get a fresh event "
        "(a broker that lost messages, a vanished consumer).",
    )
    orphan_grace_seconds: int = Field(
        900, ge=60, description="Age after which an object with no upload row is swept."
    )

    # --- ETL worker -------------------------------------------------------------------------
    etl_concurrency: int = Field(4, ge=1, le=64, description="Upload events processed at once.")
    etl_shutdown_grace_seconds: float = Field(
        25.0, ge=0, description="On SIGTERM, time in-flight work gets before it is given back."
    )
    etl_backoff_base_seconds: float = Field(
        1.0, ge=0, description="First retry delay; doubles per attempt."
    )
    etl_backoff_max_seconds: float = Field(
        30.0, ge=0, description="Longest retry delay (jittered: half of it plus up to half)."
    )
    etl_retry_budget_seconds: float = Field(
        900.0,
        ge=0,
        description="How long an upload is retried while a dependency (database, object "
        "store) is down before it is marked failed; housekeeping queues it again later.",
    )
    requeue_failed_after_seconds: float = Field(
        120.0,
        ge=0,
        description="Uploads failed because a dependency was down are queued again this "
        "long after their last attempt (housekeeping).",
    )
    requeue_failed_max_age_hours: int = Field(
        72,
        ge=1,
        description="Uploads older than this that failed on a dependency are left for an "
        "operator (`healthplatform reprocess`) instead of being queued again.",
    )
    housekeeping_interval_seconds: float = Field(
        60.0, gt=0, description="How often housekeeping (requeues, sweeps, purges) runs."
    )
    etl_lease_seconds: float = Field(
        300.0, gt=0, description="Database queue: a claimed event returns after this."
    )

    # --- cache / rate limits ---------------------------------------------------------------
    redis_url: SecretStr = Field(
        SecretStr(""), description="Redis/Valkey URL; empty = in-process limiter."
    )
    redis_key_prefix: str = Field("hp:", description="Prefix of every Redis key.")
    rate_limit_per_minute: int = Field(
        120, ge=1, description="Requests per user (token `sub`) per minute on /v1."
    )
    rate_limit_burst: int = Field(60, ge=1, description="Extra burst allowance per user.")

    # --- tokens (verification) -------------------------------------------------------------
    jwt_jwks_url: str = Field(
        "", description="JWKS URL of the auth service; empty = the local platform's own JWKS."
    )
    jwt_issuer: str = Field("healthplatform-auth", description="Expected `iss`.")
    jwt_audience: str = Field("healthplatform-api", description="Expected `aud`.")
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"],
        description="Accepted algorithms (comma separated); `none` and HS* are refused.",
    )
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed.")
    jwks_min_refresh_seconds: float = Field(
        10.0, ge=0, description="Minimum interval between JWKS refetches on an unknown `kid`."
    )
    jwks_ttl_seconds: float = Field(
        60.0,
        gt=0,
        le=60,
        description="The JWKS is refetched after this long, so a key removed from it is "
        "refused (cached tokens included) within a minute.",
    )
    jwt_max_lifetime_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        description="Longest accepted token lifetime (`exp - iat`); longer-lived tokens are "
        "refused. Keep it at or above `HP_AUTH_ACCESS_TOKEN_TTL` (at most 3600).",
    )
    revocation_url: str = Field(
        "",
        description="The auth service's in-cluster revoked-sessions endpoint "
        "(`http://<auth>/internal/revoked-sessions`, the chart's choice: the health side holds "
        "no auth Valkey password); empty = read `HP_REVOCATION_REDIS_KEY` from `HP_REDIS_URL`, "
        "or (no Redis) the in-process list of `up`.",
    )
    revocation_redis_key: str = Field(
        "hp:revoked-sessions",
        description="Redis sorted set of revoked session ids (`sid`), written by the auth "
        "service (`HP_AUTH_REVOCATION_REDIS_KEY`, same Redis) and read through `HP_REDIS_URL`.",
    )
    revocation_refresh_seconds: float = Field(
        5.0,
        gt=0,
        le=30,
        description="How often each process re-reads the revocation list; a revoked "
        "session's tokens are refused within this (unreadable for 60 s: 503).",
    )

    # --- uploads ----------------------------------------------------------------------------
    upload_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest accepted request body."
    )
    upload_max_decoded_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        description="Largest decompressed Avro payload (defeats deflate bombs).",
    )
    upload_max_records: int = Field(200_000, ge=1, description="Most records in one file.")
    upload_max_block_items: int = Field(
        200_000,
        ge=1,
        description="Most items in one Avro array/map block (checked before decoding).",
    )
    upload_max_items: int = Field(
        2_000_000, ge=1, description="Most array/map items in one file (checked before decoding)."
    )
    upload_cpu_seconds: float = Field(
        10.0, gt=0, description="CPU time budget for validating one uploaded file."
    )
    etl_decode_cpu_seconds: float = Field(
        30.0,
        gt=0,
        description="CPU time budget for decoding one stored file into observations (ETL).",
    )

    # --- telemetry --------------------------------------------------------------------------
    otel_exporter_otlp_endpoint: str = Field(
        "", description="OTLP/HTTP endpoint for traces; empty = spans are not exported."
    )
    otel_sample_ratio: float = Field(1.0, ge=0, le=1, description="Trace sampling ratio.")

    # --- browsers ---------------------------------------------------------------------------
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web client origins (comma separated, `https://host[:port]`, never `*`) "
        "allowed to call the API cross-origin; empty = same origin only.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        from healthplatform.core.cors import normalise_origin

        return [normalise_origin(origin) for origin in value]

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _refuse_weak_algorithms(cls, value: list[str]) -> list[str]:
        allowed = {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}
        bad = [alg for alg in value if alg not in allowed]
        if bad:
            raise ValueError(f"unsupported JWT algorithms {bad}; allowed: {sorted(allowed)}")
        return value

    @model_validator(mode="after")
    def _s3_needs_endpoint_or_region(self) -> Settings:
        if self.object_store is ObjectStoreKind.s3 and not self.s3_bucket:
            raise ValueError("HP_S3_BUCKET is required when HP_OBJECT_STORE=s3")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'health.db').resolve()}"

    @property
    def resolved_object_store_path(self) -> Path:
        return (self.object_store_path or self.data_dir / "objects").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reference_table() -> str:
    """Markdown table of every setting: env var, default, description."""
    return config_docs.reference_table(Settings, ENV_PREFIX)
