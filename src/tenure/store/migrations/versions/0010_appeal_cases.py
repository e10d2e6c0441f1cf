"""appeal cases, their history, decisions and evidence; support agents; how a session
was signed in; territory exemptions granted by appeals

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("factor", sa.String(length=16), nullable=True))
    op.add_column("device_territory", sa.Column("exempt_rules", sa.Text(), nullable=True))
    op.create_table(
        "support_agents",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_support_agents_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_support_agents")),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_id", sa.String(length=32), nullable=False),
        sa.Column("claim_id", sa.String(length=32), nullable=True),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("purchase", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("window_ends_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["applicant_id"], ["accounts.account_id"],
                                name=op.f("fk_cases_applicant_id_accounts")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_cases_device_id_devices")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_device_id"), "cases", ["device_id"])
    op.create_index(op.f("ix_cases_applicant_id"), "cases", ["applicant_id"])
    op.create_index("ix_cases_state", "cases", ["state", "opened_at"])
    op.create_index("ix_cases_window", "cases", ["window_ends_at"])
    op.create_table(
        "case_history",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"],
                                name=op.f("fk_case_history_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_case_history")),
    )
    op.create_table(
        "case_decisions",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"],
                                name=op.f("fk_case_decisions_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_case_decisions")),
    )
    op.create_table(
        "case_evidence",
        sa.Column("evidence_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"],
                                name=op.f("fk_case_evidence_case_id_cases")),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_case_evidence")),
    )
    op.create_index(op.f("ix_case_evidence_case_id"), "case_evidence", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_evidence")
    op.drop_table("case_decisions")
    op.drop_table("case_history")
    op.drop_index("ix_cases_window", table_name="cases")
    op.drop_index("ix_cases_state", table_name="cases")
    op.drop_table("cases")
    op.drop_table("support_agents")
    with op.batch_alter_table("device_territory") as batch:
        batch.drop_column("exempt_rules")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("factor")
