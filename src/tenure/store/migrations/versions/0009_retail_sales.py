"""retail sales registered by retailers, and retailers' territory licences

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retail_sales",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("sold_on", sa.String(length=10), nullable=False),
        sa.Column("territory", sa.String(length=16), nullable=False),
        sa.Column("licensed", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"],
                                name=op.f("fk_retail_sales_device_id_devices")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_retail_sales_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_retail_sales")),
    )
    op.create_index("ix_retail_sales_tenant_id", "retail_sales", ["tenant_id"])
    op.create_table(
        "retailer_licenses",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("territory", sa.String(length=16), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"],
                                name=op.f("fk_retailer_licenses_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "territory", "granted_at",
                                name=op.f("pk_retailer_licenses")),
    )


def downgrade() -> None:
    op.drop_table("retailer_licenses")
    op.drop_index("ix_retail_sales_tenant_id", table_name="retail_sales")
    op.drop_table("retail_sales")
