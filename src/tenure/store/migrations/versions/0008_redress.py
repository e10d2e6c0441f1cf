"""redress: ownership transfers and the message relay

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("transfer_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("from_account", sa.String(length=32), nullable=False),
        sa.Column("to_email", sa.String(length=254), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("to_account", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_transfers_device_id_devices")),
        sa.ForeignKeyConstraint(["from_account"], ["accounts.account_id"],
                                name=op.f("fk_transfers_from_account_accounts")),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_transfers")),
    )
    op.create_index("ix_transfers_from_account", "transfers", ["from_account", "state"])
    op.create_index("uq_transfers_one_pending", "transfers", ["device_id"], unique=True,
                    sqlite_where=sa.text("state = 'pending'"),
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        "relay_messages",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("from_addr", sa.String(length=254), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.Column("owner_account", sa.String(length=32), nullable=True),
        sa.Column("replies", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_relay_messages_device_id_devices")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_relay_messages")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_relay_messages_token_hash")),
    )
    op.create_index("ix_relay_messages_from_addr", "relay_messages", ["from_addr", "created_at"])
    op.create_index("ix_relay_messages_device_id", "relay_messages", ["device_id", "created_at"])
    op.create_index("ix_relay_messages_created_at", "relay_messages", ["created_at"])


def downgrade() -> None:
    op.drop_table("relay_messages")
    op.drop_index("uq_transfers_one_pending", table_name="transfers")
    op.drop_index("ix_transfers_from_account", table_name="transfers")
    op.drop_table("transfers")
