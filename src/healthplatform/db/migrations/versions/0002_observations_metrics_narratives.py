"""observations, daily metrics, narratives; upload processing report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("report", sa.JSON))
    op.create_table(
        "observations",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("hc_id", sa.String(128), nullable=False),
        sa.Column("last_modified_ms", sa.BigInteger, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("offset_minutes", sa.Integer, nullable=False),
        sa.Column("end_offset_minutes", sa.Integer),
        sa.Column("offset_known", sa.Boolean, nullable=False),
        sa.Column("local_date", sa.Date, nullable=False),
        sa.Column("end_local_date", sa.Date, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("upload_id", sa.Uuid, nullable=False),
        sa.UniqueConstraint("user_id", "record_type", "hc_id", name="uq_observations_record"),
    )
    op.create_index("ix_observations_user_day", "observations", ["user_id", "local_date"])
    op.create_index("ix_observations_user_end_day", "observations", ["user_id", "end_local_date"])
    op.create_table(
        "daily_metrics",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("local_date", sa.Date, primary_key=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("definitions_version", sa.String(32), nullable=False),
        sa.Column("source_upload_ids", sa.JSON, nullable=False),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("training_key", sa.String(512)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "narratives",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("local_date", sa.Date),
        sa.Column("upload_id", sa.Uuid),
        sa.Column("domains", sa.JSON, nullable=False),
        sa.Column("statistical", sa.Text, nullable=False),
        sa.Column("structural", sa.Text, nullable=False),
        sa.Column("semantic", sa.Text, nullable=False),
        sa.Column("definitions_version", sa.String(32), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("key", name="uq_narratives_key"),
    )
    op.create_index("ix_narratives_user_day", "narratives", ["user_id", "kind", "local_date"])


def downgrade() -> None:
    op.drop_table("narratives")
    op.drop_table("daily_metrics")
    op.drop_table("observations")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("report")
