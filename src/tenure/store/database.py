"""Engines for SQLite (embedded default) and PostgreSQL (production) from one URL.

Every wait for the database is bounded (`wait_seconds`, TENURE_DATABASE_WAIT_SECONDS):
SQLite's busy handler, PostgreSQL's lock_timeout and the pool's checkout. A request
that cannot get the database within it fails fast with `Unavailable` (a 503 with
Retry-After) instead of freezing for 30 s and ending in a 500. A transaction may ask
for another bound (`wait=0`: fail at once if the write lock is taken — the device path
does that on the event loop, then tries again every few milliseconds without holding
the loop, decision 0018; a bulk import's switch-in waits longer, it is not serving
anyone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DEFAULT_WAIT_SECONDS = 1.0


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` form users copy from libpq docs; drive it with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, wait_seconds: float = DEFAULT_WAIT_SECONDS, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    wait_ms = max(0, int(wait_seconds * 1000))
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": wait_ms / 1000}, **kwargs)
        _configure_sqlite(engine, wait_ms)
        return engine
    # lock_timeout bounds waits for row and table locks; 0 would mean "forever" to
    # PostgreSQL, so the smallest bound is 1 ms.
    options = f"-c lock_timeout={max(1, wait_ms)}"
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         pool_timeout=max(0.001, wait_seconds),
                         connect_args={"options": options}, **kwargs)


def _configure_sqlite(engine: Engine, wait_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's implicit BEGIN is
        # deferred and deadlocks when two readers both try to upgrade to writers).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # acknowledged writes survive power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={wait_ms}")
        cursor.close()
        record.info["tenure_busy_ms"] = wait_ms

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        wanted = conn.info.get("tenure_wait_ms")
        wanted = wait_ms if wanted is None else wanted
        info = conn.connection.info  # lives as long as the DBAPI connection
        # On the DBAPI connection: SQLAlchemy's execution of a driver statement costs
        # ~25 µs more than BEGIN itself, on every transaction (decision 0021).
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if info.get("tenure_busy_ms") != wanted:
            # Only when it changes: a PRAGMA per transaction would tax the hot path.
            raw.execute(f"PRAGMA busy_timeout={int(wanted)}")
            info["tenure_busy_ms"] = wanted
        readonly = conn.info.get("tenure_readonly", False)
        raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine, readonly: bool = False,
                wait: float | None = None) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back on any exception.

    `wait` (seconds) overrides the engine's bound on SQLite lock waits for this
    transaction; None keeps the engine's."""
    with engine.connect() as conn, begun(conn, readonly, wait):
        yield conn


@contextmanager
def begun(conn: Connection, readonly: bool = False,
          wait: float | None = None) -> Iterator[Connection]:
    """One transaction on a connection the caller holds (the device lane keeps one):
    `readonly` and `wait` as for `transaction`, read by the SQLite `begin` event."""
    conn.info["tenure_readonly"] = readonly
    conn.info["tenure_wait_ms"] = None if wait is None else int(wait * 1000)
    try:
        with conn.begin():
            yield conn
    finally:
        conn.info["tenure_readonly"] = False
        conn.info["tenure_wait_ms"] = None


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None),
                                                      "sqlstate", None)
    return code if isinstance(code, str) else None


def is_conflict(exc: BaseException) -> bool:
    """A conflict worth retrying the whole transaction for: a unique race, a deadlock
    (40P01) or a serialization failure (40001) — which PostgreSQL raises only at
    REPEATABLE READ and above, but CockroachDB and YugabyteDB raise on any contended
    transaction. Raw driver errors count too: the device path runs its statements on
    the DBAPI cursor (store/driver_sql.py), where SQLAlchemy does not wrap them."""
    if isinstance(exc, IntegrityError) or is_serialization_failure(exc):
        return True
    code = _sqlstate(exc)
    return code is not None and code.startswith("23") and not isinstance(exc, DBAPIError)


def is_serialization_failure(exc: BaseException) -> bool:
    """SQLSTATE 40001 (could not serialize) or 40P01 (deadlock): the transaction was
    rolled back only because of another one, and running it again is the remedy."""
    return _sqlstate(exc) in {"40001", "40P01"}


def is_busy(exc: BaseException) -> bool:
    """The database could not be had within the bound: SQLite's write lock taken
    (SQLITE_BUSY), a PostgreSQL lock_timeout (55P03), or no pooled connection free.
    Raw driver errors count too: the hot path runs some statements on the DBAPI cursor."""
    if isinstance(exc, PoolTimeout):
        return True
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else exc
    if _sqlstate(exc) == "55P03":
        return True
    if isinstance(orig, sqlite3.OperationalError):
        name = getattr(orig, "sqlite_errorname", "")
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(orig)
    return False


def ping(engine: Engine) -> None:
    """A read: on SQLite it must not queue for the write lock (a plain BEGIN, not
    IMMEDIATE), or /healthz would wait behind every long write."""
    with transaction(engine, readonly=True) as conn:
        conn.execute(text("SELECT 1"))
