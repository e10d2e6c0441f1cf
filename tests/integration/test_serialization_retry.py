"""Transactions lost to a serialization failure are run again (store/uow.py).

PostgreSQL raises SQLSTATE 40001 only at REPEATABLE READ and above; CockroachDB and
YugabyteDB run every transaction SERIALIZABLE and raise it whenever two collide, and
expect the client to retry (docs/scale-out.md). This runs the unit of work at
SERIALIZABLE on PostgreSQL and makes another connection win the race once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, select, text

from tenure.domain.errors import Unavailable
from tenure.store import tables as t
from tenure.store.database import make_engine
from tenure.store.driver_sql import DriverSQL
from tenure.store.uow import Tx, UnitOfWork
from tests.conftest import _truncate

pytestmark = pytest.mark.postgres

READ = DriverSQL("SELECT hits FROM rate_limits WHERE key = :key")
WRITE = DriverSQL("UPDATE rate_limits SET hits = :hits WHERE key = :key")


@pytest.fixture
def serializable(postgres_database: str) -> Iterator[Engine]:
    _truncate(postgres_database)
    engine = make_engine(postgres_database, isolation_level="SERIALIZABLE")
    with engine.begin() as conn:
        conn.execute(t.rate_limits.insert().values(key="k", window_start=0, hits=0))
    yield engine
    engine.dispose()


def _read_raw(conn: Connection) -> int:
    return int(READ.rows(conn, key="k")[0][0])


def _write_raw(conn: Connection, hits: int) -> None:
    WRITE.rowcount(conn, key="k", hits=hits)


def _read_core(conn: Connection) -> int:
    return int(conn.execute(select(t.rate_limits.c.hits)
                            .where(t.rate_limits.c.key == "k")).scalar_one())


def _write_core(conn: Connection, hits: int) -> None:
    conn.execute(t.rate_limits.update().where(t.rate_limits.c.key == "k").values(hits=hits))


@pytest.mark.parametrize("statements", ["driver", "sqlalchemy"])
def test_an_increment_that_lost_a_race_is_run_again_and_loses_nothing(
        serializable: Engine, statements: str) -> None:
    read, write = (_read_raw, _write_raw) if statements == "driver" else (_read_core,
                                                                           _write_core)
    attempts = []

    def increment(tx: Tx) -> int:
        attempts.append(1)
        hits = read(tx.conn)  # the transaction's snapshot is taken here
        if len(attempts) == 1:  # someone else commits an increment meanwhile
            with serializable.begin() as other:
                other.execute(text("UPDATE rate_limits SET hits = hits + 10 WHERE key = 'k'"))
        write(tx.conn, hits + 1)  # 40001: could not serialize access (concurrent update)
        return hits + 1

    assert UnitOfWork(serializable).run(increment) == 11
    assert len(attempts) == 2
    with serializable.connect() as conn:
        assert _read_core(conn) == 11  # neither increment was lost


def _lose_a_race(engine: Engine, tx: Tx) -> None:
    hits = _read_raw(tx.conn)
    with engine.begin() as other:
        other.execute(text("UPDATE rate_limits SET hits = hits + 1 WHERE key = 'k'"))
    _write_raw(tx.conn, hits + 1)


def test_retries_are_bounded_and_end_in_a_503(serializable: Engine) -> None:
    """A transaction that loses every time gives up after its attempts with
    `Unavailable` (503 with Retry-After: the client retries later), instead of spinning
    on the event loop or answering 500."""
    attempts = []

    def always_loses(tx: Tx) -> None:
        attempts.append(1)
        _lose_a_race(serializable, tx)

    with pytest.raises(Unavailable) as failure:
        UnitOfWork(serializable).run(always_loses, attempts=3)
    assert getattr(failure.value.__cause__, "sqlstate", None) == "40001"
    assert failure.value.extensions["retry_after"] == 1
    assert len(attempts) == 3


def test_a_transaction_without_retries_that_loses_answers_503_not_500(
        serializable: Engine) -> None:
    """Paths that open one transaction (`with uow()`, not `run`) cannot retry it
    themselves: on CockroachDB a contended one must still answer 503 + Retry-After."""
    with pytest.raises(Unavailable), UnitOfWork(serializable)() as tx:
        _lose_a_race(serializable, tx)
