"""owner commands (ring, wipe): who issued them and their cancellation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_commands") as batch:
        batch.add_column(sa.Column("issued_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_device_commands_issued_by", "device_commands", ["issued_by"])


def downgrade() -> None:
    op.drop_index("ix_device_commands_issued_by", table_name="device_commands")
    with op.batch_alter_table("device_commands") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("issued_by")
