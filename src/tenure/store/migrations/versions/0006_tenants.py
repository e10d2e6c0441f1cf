"""tenants (organizations, creditors, retailers), their device assignments, owners'
consents, tenant API keys, the webhook event outbox and organization bypass codes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=255), server_default="", nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "tenant_devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("assigned_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_tenant_devices_device_id_devices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_tenant_devices_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("device_id", "tenant_id", name=op.f("pk_tenant_devices")),
    )
    op.create_index("ix_tenant_devices_tenant_id", "tenant_devices", ["tenant_id"])
    op.create_table(
        "consents",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_consents_device_id_devices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_consents_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_consents_account_id_accounts")),
        sa.PrimaryKeyConstraint("device_id", "tenant_id", "account_id",
                                name=op.f("pk_consents")),
    )
    op.create_table(
        "tenant_events",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("failed_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_tenant_events_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_tenant_events")),
    )
    op.create_index("uq_tenant_events_order", "tenant_events",
                    ["tenant_id", "device_id", "seq"], unique=True)
    op.create_index("ix_tenant_events_pending", "tenant_events",
                    ["delivered_at", "failed_at", "next_attempt_at"])
    op.create_table(
        "bypass_codes",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=160), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("spent_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_bypass_codes_device_id_devices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_bypass_codes_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_bypass_codes")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(op.f("fk_api_keys_tenant_id_tenants"), "tenants",
                                    ["tenant_id"], ["tenant_id"])
        batch_op.create_index("ix_api_keys_tenant_id", ["tenant_id"])
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(
            "uq_claims_one_active_organization",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'organization' AND released_at IS NULL"),
            postgresql_where=sa.text("kind = 'organization' AND released_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("uq_claims_one_active_organization")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_tenant_id")
        batch_op.drop_constraint(op.f("fk_api_keys_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_column("tenant_id")
    op.drop_table("bypass_codes")
    op.drop_index("ix_tenant_events_pending", table_name="tenant_events")
    op.drop_index("uq_tenant_events_order", table_name="tenant_events")
    op.drop_table("tenant_events")
    op.drop_table("consents")
    op.drop_index("ix_tenant_devices_tenant_id", table_name="tenant_devices")
    op.drop_table("tenant_devices")
    op.drop_table("tenants")
