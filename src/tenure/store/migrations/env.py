"""Alembic environment: one URL from the config, the schema from tenure.store.tables.

Every `tenure serve` upgrades the schema as it starts, so replicas started at once on a
new release would run the same migration side by side and all but one fail half-way
(`duplicate key ... pg_type_typname_nsp_index`). On PostgreSQL the upgrade therefore
holds a transaction-level advisory lock: the others wait, then find the schema current.
"""

from __future__ import annotations

import time

from alembic import context
from sqlalchemy import Connection, text

from tenure.store.database import make_engine
from tenure.store.tables import metadata

config = context.config
# pg_advisory_xact_lock key: the bytes of "tenure" as an integer, one lock for all upgrades.
MIGRATION_LOCK = int.from_bytes(b"tenure", "big")
LOCK_WAIT_SECONDS = 600.0  # another replica's migration of a big table


def _serialise(connection: Connection) -> None:
    """Wait for the migration lock by polling: a blocking wait would be cut off by the
    engine's ~1 s lock_timeout, and raising that for the whole transaction would let the
    DDL itself queue live traffic behind it for as long."""
    if connection.dialect.name != "postgresql":
        return
    version = str(connection.execute(text("SELECT version()")).scalar_one())
    if not version.startswith("PostgreSQL") or "-YB-" in version:
        return  # CockroachDB, YugabyteDB: `tenure db upgrade` once, first (docs/scale-out.md)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                 {"key": MIGRATION_LOCK}).scalar_one():
        if time.monotonic() > deadline:
            raise RuntimeError("another schema upgrade held the migration lock for "
                               f"{LOCK_WAIT_SECONDS:.0f} s")
        time.sleep(0.2)


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            _serialise(connectable)
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            _serialise(connection)
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
