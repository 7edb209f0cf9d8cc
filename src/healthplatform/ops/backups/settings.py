"""Settings of backups, verification and restores, read from ``HP_BACKUP_*`` variables.

The backup store is a second object store: by default the data lake's kind, endpoint and
credentials with its own bucket (S3) or folder (local runs). Field descriptions are the
documentation (docs/backup.md prints the table from them).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from healthplatform.settings import ObjectStoreKind

ENV_PREFIX = "HP_BACKUP_"
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*/$")


class BackupSettings(BaseSettings):
    """Every configuration key of the backup commands."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    object_store: ObjectStoreKind | None = Field(
        None,
        description="Kind of the backup store, `local` or `s3`; empty = the data lake's "
        "kind (`HP_OBJECT_STORE`).",
    )
    path: Path | None = Field(
        None,
        description="Folder of a local backup store; default `HP_DATA_DIR/backup-store`.",
    )
    bucket: str = Field(
        "",
        description="Bucket of an S3 backup store; empty = the data lake bucket "
        "(`HP_S3_BUCKET`). Use a separate bucket in production, so that losing the data "
        "lake bucket does not lose its backups.",
    )
    prefix: str = Field(
        "backups/",
        description="Key prefix of everything the backups write (dumps, manifests, raw "
        "copies, `status.json`).",
    )
    s3_endpoint_url: str = Field("", description="S3 endpoint; empty = `HP_S3_ENDPOINT_URL`.")
    s3_region: str = Field("", description="S3 region; empty = `HP_S3_REGION`.")
    s3_access_key_id: SecretStr = Field(
        SecretStr(""), description="S3 access key id; empty = `HP_S3_ACCESS_KEY_ID`."
    )
    s3_secret_access_key: SecretStr = Field(
        SecretStr(""), description="S3 secret key; empty = `HP_S3_SECRET_ACCESS_KEY`."
    )
    s3_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Connect/read timeout of the backup store (a dump is sent in one "
        "request, so this is larger than the data lake's).",
    )
    keep_daily: int = Field(
        7, ge=1, description="Daily backups kept per database (the newest ones)."
    )
    keep_weekly: int = Field(
        4, ge=0, description="Weekly backups kept per database (the newest ones)."
    )
    budget_gb: float = Field(
        10.0,
        gt=0,
        description="Object storage planned for everything under the prefix (dumps, raw "
        "copies), in GB (docs/backup.md, sizing); `backup create` and `backup list` warn above it.",
    )
    pg_bin_dir: Path | None = Field(
        None,
        description="Folder of `pg_dump`/`pg_restore`; empty = `PATH`, then the newest "
        "`/usr/lib/postgresql/<version>/bin`.",
    )
    command_timeout_seconds: float = Field(
        3600.0, gt=0, description="Longest run of one `pg_dump` or `pg_restore`."
    )
    maintenance_database: str = Field(
        "postgres",
        description="Database to connect to for `CREATE`/`DROP DATABASE` (scratch "
        "databases of `verify`, re-creating a dropped database at `restore`).",
    )
    copy_concurrency: int = Field(
        8, ge=1, le=64, description="Objects copied at once between the data lake and backups."
    )

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        if not _PREFIX.match(value) or ".." in value:
            raise ValueError("prefix must be a relative key prefix ending in '/', e.g. backups/")
        return value


def reference_table() -> str:
    """Markdown table of every ``HP_BACKUP_*`` setting: variable, default, description."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for name, field in BackupSettings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows) + "\n"
