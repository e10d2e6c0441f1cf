"""bootloader unlock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 05:35:56.836615
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "device_bootloader",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_bootloader_device_id_devices"),
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_bootloader")),
    )
    op.create_table(
        "unlock_grants",
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("bl_nonce", sa.String(length=128), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_unlock_grants_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_unlock_grants_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_unlock_grants")),
    )
    with op.batch_alter_table("unlock_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unlock_grants_account", ["account_id", "granted_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("unlock_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_unlock_grants_account")

    op.drop_table("unlock_grants")
    op.drop_table("device_bootloader")
