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
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import tenure
from tenure.store.database import normalise_url
from tenure.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    pending,
    upgrade,
)
from tenure.store.tables import metadata
from tests.conftest import postgres_admin_url

TENURE = str(Path(sys.executable).with_name("tenure"))

SRC = str(Path(tenure.__file__).resolve().parents[1])


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


def test_the_newest_revision_read_from_the_files_is_alembics() -> None:
    """`upgrade` and /readyz read the head from the files' own lines (without alembic):
    it must be what alembic itself finds."""
    assert head_revision() == ScriptDirectory.from_config(
        alembic_config("sqlite://")).get_current_head()


def test_a_current_schema_is_left_alone_without_loading_alembic(database_url: str) -> None:
    """Every CLI command runs `upgrade` first: on a current schema it must not even
    import alembic (a fifth of a command's time)."""
    check = ("import sys; from tenure.store.migrate import upgrade; upgrade(sys.argv[1]); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", check, database_url], capture_output=True,
                          text=True, timeout=120, env=os.environ | {"PYTHONPATH": SRC})
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_a_schema_behind_is_pending_and_upgraded(database_url: str) -> None:
    """The short cut never skips a migration: one revision behind, /readyz's check says
    so and `upgrade` brings the schema back to the declared one."""
    engine = create_engine(normalise_url(database_url))
    try:
        assert not pending(engine)
        command.downgrade(alembic_config(database_url), "-1")
        with engine.connect() as conn:
            assert current_revision(conn) not in (None, head_revision())
        assert pending(engine)
    finally:
        upgrade(database_url)
        engine.dispose()
    assert not pending(engine)
    test_the_migrated_schema_is_the_declared_schema(database_url)
