"""person time zones, record placement, claims, consent

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Observations keep the offset the record carried (``record_offset``) apart from the offset
they are placed at; existing rows keep their placement. Definitions 2026.12.1 need a
rebuild from the raw uploads (``healthplatform reprocess``): rows written before this
revision do not know the app that wrote them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.add_column(
            sa.Column("content_hash", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("record_offset", sa.Integer))
        batch.add_column(sa.Column("record_end_offset", sa.Integer))
        batch.add_column(
            sa.Column("zone_source", sa.String(8), nullable=False, server_default="record")
        )
        batch.add_column(sa.Column("origin", sa.String(255)))
        batch.add_column(sa.Column("replaced_local_date", sa.Date))
        batch.add_column(sa.Column("replaced_end_local_date", sa.Date))
    op.execute(
        "UPDATE observations SET record_offset = offset_minutes, "
        "record_end_offset = end_offset_minutes WHERE offset_known"
    )
    op.execute("UPDATE observations SET zone_source = 'utc' WHERE NOT offset_known")
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("offset_known")
    op.create_index("ix_observations_user_start", "observations", ["user_id", "start_ms"])
    with op.batch_alter_table("daily_metrics") as batch:
        batch.add_column(sa.Column("series", sa.JSON))
        batch.add_column(sa.Column("context", sa.JSON))
    with op.batch_alter_table("narratives") as batch:
        batch.add_column(sa.Column("claims", sa.JSON))
        batch.add_column(sa.Column("sections", sa.JSON))
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="published")
        )
        batch.add_column(sa.Column("superseded_at", TS))
    op.create_table(
        "zone_settings",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_from_ms", sa.BigInteger),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_zone_settings_user", "zone_settings", ["user_id", "valid_from_ms"])
    op.create_table(
        "zone_evidence",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("offset_minutes", sa.Integer, primary_key=True),
    )
    op.execute(
        "INSERT INTO zone_evidence (user_id, hour, origin, offset_minutes) "
        "SELECT DISTINCT user_id, start_ms / 3600000, COALESCE(origin, ''), record_offset "
        "FROM observations WHERE record_offset IS NOT NULL"
    )
    op.create_table(
        "zone_origins",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("found_at", TS, nullable=False),
    )
    op.create_table(
        "person_jobs",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("done_at", TS),
    )
    op.create_table(
        "consents",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
    )
    op.create_index("ix_consents_user_purpose", "consents", ["user_id", "purpose", "id"])


def downgrade() -> None:
    op.drop_table("consents")
    op.drop_table("person_jobs")
    op.drop_table("zone_origins")
    op.drop_table("zone_evidence")
    op.drop_table("zone_settings")
    with op.batch_alter_table("narratives") as batch:
        for column in ("superseded_at", "status", "sections", "claims"):
            batch.drop_column(column)
    with op.batch_alter_table("daily_metrics") as batch:
        batch.drop_column("context")
        batch.drop_column("series")
    op.drop_index("ix_observations_user_start", "observations")
    with op.batch_alter_table("observations") as batch:
        batch.add_column(
            sa.Column("offset_known", sa.Boolean, nullable=False, server_default=sa.true())
        )
    op.execute("UPDATE observations SET offset_known = (record_offset IS NOT NULL)")
    with op.batch_alter_table("observations") as batch:
        for column in (
            "replaced_end_local_date",
            "replaced_local_date",
            "origin",
            "zone_source",
            "record_end_offset",
            "record_offset",
            "content_hash",
        ):
            batch.drop_column(column)
