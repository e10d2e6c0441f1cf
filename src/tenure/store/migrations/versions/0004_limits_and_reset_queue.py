"""rate limits and the password-reset request queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index("ix_rate_limits_window_start", "rate_limits", ["window_start"])
    op.create_table(
        "reset_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_reset_requests")),
    )
    op.create_index("ix_reset_requests_created_at", "reset_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_reset_requests_created_at", table_name="reset_requests")
    op.drop_table("reset_requests")
    op.drop_index("ix_rate_limits_window_start", table_name="rate_limits")
    op.drop_table("rate_limits")
