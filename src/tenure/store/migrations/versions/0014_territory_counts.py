"""territory counts: the policy dry-run's input kept by triggers, exact at every commit

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00

Devices with a last known territory, counted by (model, sku, market, territory, in
use) — what policy rules select on — so that a dry-run over millions of devices reads
a few hundred rows instead of joining every device with its whereabouts
(docs/decisions/0016-parallel-import.md). Triggers append a -1 for the group a device
leaves and a +1 for the one it joins, in the transaction that moves it; only changes
of territory, of presence (since set or not) and of activation (activated_at set or
not) fire them, so an ordinary check-in writes nothing more. On PostgreSQL each
trigger first takes a share lock on the other table's row of the device: of two
transactions changing a device's activation and whereabouts at once, the second waits
and counts from what the first committed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = "model, sku, market, territory, in_use, devices"

POSTGRES = [
    # whereabouts set for the first time (one row, or an INSERT ... SELECT of many)
    f"""CREATE FUNCTION tenure_territory_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT d.model, d.sku, d.market, a.territory,
               d.activated_at IS NOT NULL AND a.since IS NOT NULL, count(*)
        FROM added a
        JOIN LATERAL (SELECT model, sku, market, activated_at FROM devices
                      WHERE device_id = a.device_id FOR SHARE) d ON true
        WHERE a.territory IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER tenure_territory_added AFTER INSERT ON device_territory
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION tenure_territory_added()""",
    # a device moved, arrived or faded from view
    f"""CREATE FUNCTION tenure_territory_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT d.model, d.sku, d.market, c.territory,
               d.activated_at IS NOT NULL AND c.present, c.n
        FROM (SELECT model, sku, market, activated_at FROM devices
              WHERE device_id = OLD.device_id FOR SHARE) d,
             (VALUES (OLD.territory, OLD.since IS NOT NULL, -1),
                     (NEW.territory, NEW.since IS NOT NULL, 1)) AS c(territory, present, n)
        WHERE c.territory IS NOT NULL;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER tenure_territory_moved AFTER UPDATE OF territory, since
    ON device_territory FOR EACH ROW
    WHEN (OLD.territory IS DISTINCT FROM NEW.territory
          OR (OLD.since IS NULL) <> (NEW.since IS NULL))
    EXECUTE FUNCTION tenure_territory_moved()""",
    f"""CREATE FUNCTION tenure_territory_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT model, sku, market, OLD.territory,
               activated_at IS NOT NULL AND OLD.since IS NOT NULL, -1
        FROM devices WHERE device_id = OLD.device_id FOR SHARE;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER tenure_territory_removed AFTER DELETE ON device_territory
    FOR EACH ROW WHEN (OLD.territory IS NOT NULL)
    EXECUTE FUNCTION tenure_territory_removed()""",
    # activated, or refused (activated_at cleared); a product's fields changed
    f"""CREATE FUNCTION tenure_device_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT c.model, c.sku, c.market, t.territory, c.active AND t.since IS NOT NULL, c.n
        FROM (SELECT territory, since FROM device_territory
              WHERE device_id = OLD.device_id FOR SHARE) t,
             (VALUES (OLD.model, OLD.sku, OLD.market, OLD.activated_at IS NOT NULL, -1),
                     (NEW.model, NEW.sku, NEW.market, NEW.activated_at IS NOT NULL, 1))
                 AS c(model, sku, market, active, n)
        WHERE t.territory IS NOT NULL;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER tenure_device_counted AFTER UPDATE OF activated_at, model, sku, market
    ON devices FOR EACH ROW
    WHEN ((OLD.activated_at IS NULL) <> (NEW.activated_at IS NULL) OR OLD.model <> NEW.model
          OR OLD.sku <> NEW.sku OR OLD.market <> NEW.market)
    EXECUTE FUNCTION tenure_device_counted()""",
]

SQLITE = [
    f"""CREATE TRIGGER tenure_territory_added AFTER INSERT ON device_territory
    WHEN NEW.territory IS NOT NULL BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT model, sku, market, NEW.territory,
               activated_at IS NOT NULL AND NEW.since IS NOT NULL, 1
        FROM devices WHERE device_id = NEW.device_id;
    END""",
    f"""CREATE TRIGGER tenure_territory_moved AFTER UPDATE OF territory, since
    ON device_territory
    WHEN OLD.territory IS NOT NEW.territory OR (OLD.since IS NULL) <> (NEW.since IS NULL)
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT model, sku, market, OLD.territory,
               activated_at IS NOT NULL AND OLD.since IS NOT NULL, -1
        FROM devices WHERE device_id = OLD.device_id AND OLD.territory IS NOT NULL;
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT model, sku, market, NEW.territory,
               activated_at IS NOT NULL AND NEW.since IS NOT NULL, 1
        FROM devices WHERE device_id = NEW.device_id AND NEW.territory IS NOT NULL;
    END""",
    f"""CREATE TRIGGER tenure_territory_removed AFTER DELETE ON device_territory
    WHEN OLD.territory IS NOT NULL BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT model, sku, market, OLD.territory,
               activated_at IS NOT NULL AND OLD.since IS NOT NULL, -1
        FROM devices WHERE device_id = OLD.device_id;
    END""",
    f"""CREATE TRIGGER tenure_device_counted AFTER UPDATE OF activated_at, model, sku, market
    ON devices
    WHEN (OLD.activated_at IS NULL) <> (NEW.activated_at IS NULL) OR OLD.model <> NEW.model
         OR OLD.sku <> NEW.sku OR OLD.market <> NEW.market
    BEGIN
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT OLD.model, OLD.sku, OLD.market, territory,
               OLD.activated_at IS NOT NULL AND since IS NOT NULL, -1
        FROM device_territory WHERE device_id = OLD.device_id AND territory IS NOT NULL;
        INSERT INTO territory_count_changes ({COLUMNS})
        SELECT NEW.model, NEW.sku, NEW.market, territory,
               NEW.activated_at IS NOT NULL AND since IS NOT NULL, 1
        FROM device_territory WHERE device_id = NEW.device_id AND territory IS NOT NULL;
    END""",
]

# The counts as they stand, taken with the triggers in place and (on PostgreSQL)
# writers of either table held off until this transaction commits.
FILL = f"""INSERT INTO territory_counts ({COLUMNS})
    SELECT d.model, d.sku, d.market, dt.territory,
           d.activated_at IS NOT NULL AND dt.since IS NOT NULL, count(*)
    FROM device_territory dt JOIN devices d ON d.device_id = dt.device_id
    WHERE dt.territory IS NOT NULL
    GROUP BY d.model, d.sku, d.market, dt.territory,
             d.activated_at IS NOT NULL AND dt.since IS NOT NULL"""

TRIGGERS = ("tenure_territory_added", "tenure_territory_moved", "tenure_territory_removed",
            "tenure_device_counted")


def upgrade() -> None:
    op.create_table(
        "territory_counts",
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=32), nullable=False),
        sa.Column("territory", sa.String(length=8), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("devices", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model", "sku", "market", "territory", "in_use",
                                name=op.f("pk_territory_counts")),
    )
    op.create_table(
        "territory_count_changes",
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=32), nullable=False),
        sa.Column("territory", sa.String(length=8), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("LOCK TABLE devices, device_territory IN SHARE MODE")
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)
    op.execute(FILL)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table in zip(TRIGGERS, ("device_territory", "device_territory",
                                      "device_territory", "devices"), strict=True):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("territory_count_changes")
    op.drop_table("territory_counts")
