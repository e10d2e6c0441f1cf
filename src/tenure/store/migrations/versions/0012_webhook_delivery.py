"""webhook delivery: when the dispatcher gives up on an event (a retried one gets 3
more days)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_events") as batch:
        batch.add_column(sa.Column("give_up_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_events") as batch:
        batch.drop_column("give_up_at")
