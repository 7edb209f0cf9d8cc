"""auth: ids of device sessions deleted with their account (account deletion republishes
them to the revocation list while their access tokens could still be valid)

Revision ID: auth_0003_ended_sessions
Revises: auth_0002_username_skeleton
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0003_ended_sessions"
down_revision = "auth_0002_username_skeleton"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_ended_sessions",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_auth_ended_sessions_ended_at", "auth_ended_sessions", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_ended_sessions_ended_at", table_name="auth_ended_sessions")
    op.drop_table("auth_ended_sessions")
