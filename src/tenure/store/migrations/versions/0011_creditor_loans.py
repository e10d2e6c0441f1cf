"""creditor claims (device financing): loans and their state, reminders and their
acknowledgements, one held creditor claim per device

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "creditor_loans",
        sa.Column("claim_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=255), nullable=False),
        sa.Column("offline_lock_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("prior_state", sa.String(length=16), nullable=True),
        sa.Column("notice_command_id", sa.String(length=32), nullable=False),
        sa.Column("notice_acknowledged_at", sa.BigInteger(), nullable=True),
        sa.Column("locked_at", sa.BigInteger(), nullable=True),
        sa.Column("lock_message", sa.Text(), server_default="", nullable=False),
        sa.Column("complete_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"],
                                name=op.f("fk_creditor_loans_claim_id_claims")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_creditor_loans_device_id_devices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_creditor_loans_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_creditor_loans")),
    )
    op.create_index("ix_creditor_loans_device_id", "creditor_loans", ["device_id"])
    op.create_index("uq_creditor_loans_loan", "creditor_loans", ["tenant_id", "loan_id"],
                    unique=True)
    op.create_index("ix_creditor_loans_due", "creditor_loans", ["state", "complete_at"])
    op.create_table(
        "creditor_reminders",
        sa.Column("command_id", sa.String(length=32), nullable=False),
        sa.Column("claim_id", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.Column("acked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["creditor_loans.claim_id"],
                                name=op.f("fk_creditor_reminders_claim_id_creditor_loans")),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_creditor_reminders")),
    )
    op.create_index("ix_creditor_reminders_claim_id", "creditor_reminders", ["claim_id"])
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            "uq_claims_one_active_creditor",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'creditor' AND released_at IS NULL"),
            postgresql_where=sa.text("kind = 'creditor' AND released_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("uq_claims_one_active_creditor")
    op.drop_index("ix_creditor_reminders_claim_id", table_name="creditor_reminders")
    op.drop_table("creditor_reminders")
    op.drop_index("ix_creditor_loans_due", table_name="creditor_loans")
    op.drop_index("uq_creditor_loans_loan", table_name="creditor_loans")
    op.drop_index("ix_creditor_loans_device_id", table_name="creditor_loans")
    op.drop_table("creditor_loans")
