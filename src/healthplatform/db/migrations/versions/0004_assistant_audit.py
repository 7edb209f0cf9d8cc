"""assistant audit log

Revision ID: 0004_assistant_audit
Revises: 0003
Create Date: 2026-12-06

One row per MCP tool call an AI assistant made on a person's data (docs/assistant.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_assistant_audit"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "assistant_audit",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("arguments", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("token_id", sa.String(64)),
        sa.Column("client", sa.String(255)),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_assistant_audit_user", "assistant_audit", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_assistant_audit_user", "assistant_audit")
    op.drop_table("assistant_audit")
