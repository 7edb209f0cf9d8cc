"""uploads and transactional outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False, unique=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(1000)),
        sa.Column("file_size_bytes", sa.BigInteger, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("data_start", TS),
        sa.Column("data_end", TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("narrative_preview", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("processing_started_at", TS),
        sa.Column("finished_at", TS),
        sa.UniqueConstraint("user_id", "sha256", name="uq_uploads_user_sha256"),
        sa.CheckConstraint(
            "status IN ('queued','processing','completed','failed','quarantined')",
            name="ck_uploads_status",
        ),
    )
    op.create_index("ix_uploads_user_created", "uploads", ["user_id", "created_at"])
    op.create_table(
        "outbox_events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("locked_until", TS),
        sa.Column("published_at", TS),
    )
    op.create_index("ix_outbox_status_available", "outbox_events", ["status", "available_at", "id"])


def downgrade() -> None:
    op.drop_table("outbox_events")
    op.drop_table("uploads")
