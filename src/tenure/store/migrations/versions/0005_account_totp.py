"""the accounts' second factor (TOTP) and its recovery codes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_totp",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("enabled_at", sa.BigInteger(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_account_totp_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_totp")),
    )
    op.create_table(
        "totp_recovery_codes",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_totp_recovery_codes_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "code_hash",
                                name=op.f("pk_totp_recovery_codes")),
    )


def downgrade() -> None:
    op.drop_table("totp_recovery_codes")
    op.drop_table("account_totp")
