"""The migrations build exactly the schema the code declares (store/tables.py), on
SQLite and PostgreSQL: several features add migrations side by side, and a column in
tables.py that no migration creates fails only on a real upgrade, far from its cause."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tenure.store.database import normalise_url
from tenure.store.tables import metadata


def test_the_migrated_schema_is_the_declared_schema(database_url: str) -> None:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    # alembic_version is the migrator's own table, not part of the declared schema.
    differences = [d for d in differences
                   if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert differences == []
