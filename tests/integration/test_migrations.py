"""The migrations build exactly the schema the code declares (store/tables.py), on
SQLite and PostgreSQL: several features add migrations side by side, and a column in
tables.py that no migration creates fails only on a real upgrade, far from its cause."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tenure.store.database import normalise_url
from tenure.store.tables import metadata
from tests.conftest import postgres_admin_url

TENURE = str(Path(sys.executable).with_name("tenure"))


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


@pytest.mark.postgres
def test_replicas_upgrading_a_new_database_at_once_all_start(tmp_path: Path) -> None:
    """Every `tenure serve` upgrades the schema as it starts; replicas of a new release
    started together used to run the same migration side by side, and all but one died
    on `duplicate key value violates unique constraint`."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("needs TENURE_TEST_POSTGRES_URL")
    name = f"tenure_t_mig_{secrets.token_hex(4)}"
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(admin)).set(database=name).render_as_string(
        hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update({"TENURE_DATABASE_URL": url, "TENURE_DATA_DIR": str(tmp_path / "var")})
    try:
        upgrades = [subprocess.Popen([TENURE, "db", "upgrade"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    for _ in range(2)]
        outputs = [proc.communicate(timeout=120)[0] for proc in upgrades]
        assert [proc.returncode for proc in upgrades] == [0, 0], "\n".join(outputs)
        test_the_migrated_schema_is_the_declared_schema(url)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
