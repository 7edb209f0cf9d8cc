"""auth: confusables skeleton of every username (look-alike names are refused); display
names up to 128 characters (the previous server's contract)

Revision ID: auth_0002_username_skeleton
Revises: auth_0001
Create Date: 2026-12-06

Existing rows get their skeleton from ``healthplatform auth maintain`` (run by ``up`` at
start and by the auth CronJob), not here: the migration stays independent of ICU.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0002_username_skeleton"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(512), nullable=True))
        batch.alter_column(
            "display_name", existing_type=sa.String(64), type_=sa.String(128), nullable=False
        )
    op.create_index("ix_auth_users_username_skeleton", "auth_users", ["username_skeleton"])


def downgrade() -> None:
    op.drop_index("ix_auth_users_username_skeleton", table_name="auth_users")
    with op.batch_alter_table("auth_users") as batch:
        batch.alter_column(
            "display_name", existing_type=sa.String(128), type_=sa.String(64), nullable=False
        )
        batch.drop_column("username_skeleton")
