"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.crypto.keyring import KeyRing
from tenure.store.database import normalise_url
from tenure.store.migrate import upgrade
from tenure.store.tables import metadata
from tests.catalogs import catalogs  # noqa: F401 - a temporary message catalog, any test

POSTGRES_ENV = "TENURE_TEST_POSTGRES_URL"

# In CI (CI=true) property tests draw the same examples every run: a red CI then
# means a change broke something, not that a new random draw found an old bug. Runs
# on a developer's machine keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    hypothesis_settings.load_profile("ci")
BACKENDS = ["sqlite", "postgresql"]


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test process, dropped at the end."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. "
                    "postgresql://postgres@127.0.0.1:5432/test); the SQLite suite still runs")
    name = f"tenure_t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(4)}"
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - a clear skip beats an error per test
        pytest.skip(f"cannot create a database with {POSTGRES_ENV}: {exc}")
    url = make_url(normalise_url(admin)).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    reset = _RESET_ENGINES.pop(url, None)
    if reset is not None:
        reset.dispose()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


_RESET_ENGINES: dict[str, Engine] = {}
# Every table of the declared schema, children first (alembic_version keeps its row),
# and the dry-run's counts last: deleting whereabouts makes their triggers append
# count changes (migration 0014).
_COUNTS = ("territory_count_changes", "territory_counts")
_EMPTY_ALL = "; ".join(f'DELETE FROM "{name}"' for name in [
    *(t.name for t in reversed(metadata.sorted_tables) if t.name not in _COUNTS), *_COUNTS])


def _truncate(url: str) -> None:
    """Empty every table before a test, in one transaction and one round trip.

    DELETE rather than TRUNCATE: TRUNCATE gives each of the ~40 tables and their indexes
    new files, which PostgreSQL creates and syncs at commit — about a second per test on
    a busy machine, most of the PostgreSQL suite's time. Deleting the few rows a test
    leaves takes milliseconds and leaves the same empty tables (no sequences to reset)."""
    engine = _RESET_ENGINES.get(url)
    if engine is None:
        engine = _RESET_ENGINES[url] = create_engine(normalise_url(url), pool_size=1)
    with engine.begin() as conn:
        conn.exec_driver_sql(_EMPTY_ALL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test process: running a dozen migrations for every
    test cost about 0.3 s each; a copy of the migrated file costs a millisecond."""
    path = tmp_path_factory.mktemp("template") / "tenure.db"
    upgrade(f"sqlite:///{path}")
    # Everything in the one file (no WAL beside it), so that a plain copy is the
    # database: the backup API took ~15 ms a test, a file copy takes one.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not path.with_name("tenure.db-wal").exists() or \
        path.with_name("tenure.db-wal").stat().st_size == 0
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        target = tmp_path / "tenure.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def password_hash_cost(request: pytest.FixtureRequest) -> str:
    """argon2id at its cheapest for tests (`TENURE_PASSWORD_HASH_COST=test`): a hash at
    the standard cost is ~0.2 s of CPU, and the suite makes thousands. Tests whose point
    needs hashing to take its real time (races around a password check, the hashing
    pool's limits, the production parameters) are marked `standard_hashing`."""
    return "standard" if request.node.get_closest_marker("standard_hashing") else "test"


@pytest.fixture(scope="session")
def key_ring_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One server key ring per test process, copied into each test's data dir (modes
    kept): creating one per test wrote and synced three files, ~15 ms a test."""
    path = tmp_path_factory.mktemp("key-ring") / "keys"
    KeyRing.create(path)
    return path


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str,
             key_ring_template: Path) -> Settings:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copytree(key_ring_template, data / "keys")
    return Settings(data_dir=data, database_url=database_url,
                    password_hash_cost=password_hash_cost(request))


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    rt = bootstrap(settings, clock=clock)
    yield rt
    rt.close()
