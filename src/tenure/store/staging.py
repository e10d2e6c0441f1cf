"""A bulk import staged outside the shared write path, then switched in at once.

The rows of an import are checked against the store and written to temporary tables
of one dedicated connection, in chunks of short transactions that take no write lock
on the shared tables (SQLite: a plain BEGIN, writes only to the connection's own temp
database; PostgreSQL: COPY into temporary tables, which are not even WAL-logged).
Nothing of it is visible to anyone else. The switch-in is then one transaction of two
`INSERT ... SELECT` statements and the caller's audit event: all or nothing, and on
SQLite the only time the import holds the write lock (about 3.5 µs a row, measured in
docs/decisions/0012-bulk-imports-staged.md).

A device or IMEI inserted meanwhile by someone else makes the switch-in fail on the
unique key: it is rolled back and `ImportConflict` raised, nothing imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tenure.domain.errors import ImportConflict, Unavailable

from .database import is_busy
from .repositories import DEVICE_COLUMNS

if TYPE_CHECKING:
    from .uow import Tx

DEVICES = "tenure_staged_devices"
IMEIS = "tenure_staged_imeis"
# SQLite: page cache of the import connection while it stages and switches in. With
# the default 2 MB, the switch-in of 500 k rows spilled and took 10 s instead of 1.7 s.
SQLITE_CACHE_KIB = 512 * 1024
SWITCH_IN_WAIT_SECONDS = 30.0

_SQLITE_TABLES = (
    f"CREATE TEMP TABLE {DEVICES} (device_id TEXT PRIMARY KEY, model TEXT, sku TEXT,"
    " market TEXT, key_type TEXT, public_key BLOB, provisioned_at INTEGER) WITHOUT ROWID",
    f"CREATE TEMP TABLE {IMEIS} (imei TEXT PRIMARY KEY, device_id TEXT) WITHOUT ROWID",
)
_POSTGRES_TABLES = (
    f"CREATE TEMP TABLE {DEVICES} (device_id VARCHAR(64), model VARCHAR(64), sku VARCHAR(64),"
    " market VARCHAR(32), key_type VARCHAR(8), public_key BYTEA, provisioned_at BIGINT)",
    f"CREATE TEMP TABLE {IMEIS} (imei VARCHAR(15), device_id VARCHAR(64))",
)


class ImportStaging:
    """One import's staging area on its own connection (temporary tables are private
    to a connection). Use as a context manager; the tables go with it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "use ImportStaging as a context manager"
        return self._conn

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def __enter__(self) -> ImportStaging:
        self._conn = self.engine.connect()
        with self._chunk_tx():
            if self.sqlite:
                self._raw(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                self._raw(f"PRAGMA temp.cache_size=-{SQLITE_CACHE_KIB}")
            for statement in _SQLITE_TABLES if self.sqlite else _POSTGRES_TABLES:
                self._raw(statement)
        return self

    def __exit__(self, *_: object) -> None:
        conn = self.conn
        try:
            if conn.in_transaction():
                conn.rollback()
            with self._chunk_tx():
                for table in (DEVICES, IMEIS):
                    self._raw(f"DROP TABLE IF EXISTS {table}")
            if self.sqlite:
                self._raw("PRAGMA cache_size=-2000")  # the pooled connection's default
        finally:
            conn.close()
            self._conn = None

    @contextmanager
    def chunk(self) -> Iterator[Tx]:
        """A short transaction for one chunk: read the store (to check the rows against
        it) and stage rows with `add`. It takes no lock that device traffic needs."""
        from .uow import Tx

        with self._chunk_tx():
            yield Tx(self.conn)

    def add(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None:
        """Stage rows (tuples in the order of DEVICE_COLUMNS, and (imei, device_id))."""
        cursor = self._cursor()
        try:
            if self.sqlite:
                cursor.executemany(f"INSERT INTO {DEVICES} VALUES "
                                   f"({', '.join('?' * len(DEVICE_COLUMNS))})", devices)
                cursor.executemany(f"INSERT INTO {IMEIS} VALUES (?, ?)", imeis)
            else:
                for table, rows in ((DEVICES, devices), (IMEIS, imeis)):
                    if rows:
                        with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
        finally:
            cursor.close()

    def switch_in(self, finish: Callable[[Tx], None],
                  wait: float = SWITCH_IN_WAIT_SECONDS) -> None:
        """Move every staged row into the shared tables and run `finish` (the audit
        event) in one transaction. Raises ImportConflict (nothing imported) if another
        writer provisioned any of these devices or IMEIs since they were checked, and
        Unavailable if the write lock could not be had within `wait` seconds."""
        from .uow import Tx

        conn = self.conn
        conn.info["tenure_readonly"] = False
        conn.info["tenure_wait_ms"] = int(wait * 1000)
        try:
            with conn.begin():
                if not self.sqlite:
                    self._raw(f"SET LOCAL lock_timeout = {int(wait * 1000)}")
                columns = ", ".join(DEVICE_COLUMNS)
                # Plain INSERTs: a clash raises (ON CONFLICT DO NOTHING and a row count
                # check cost PostgreSQL a speculative insertion a row, ~50 % more).
                conn.exec_driver_sql(
                    f"INSERT INTO devices ({columns}) SELECT {columns} FROM {DEVICES}")
                conn.exec_driver_sql(f"INSERT INTO device_imeis (imei, device_id) "
                                     f"SELECT imei, device_id FROM {IMEIS}")
                finish(Tx(conn))
        except IntegrityError as exc:
            raise ImportConflict(
                "Devices or IMEIs of this file were provisioned by another import while "
                "it ran; nothing was imported. Import the file again to see which rows "
                "clash.") from exc
        except Exception as exc:
            if is_busy(exc):
                raise Unavailable("The database stayed busy; nothing was imported. "
                                  "Import the file again.", retry_after=1) from exc
            raise
        finally:
            conn.info["tenure_readonly"] = False
            conn.info["tenure_wait_ms"] = None

    @contextmanager
    def _chunk_tx(self) -> Iterator[None]:
        # readonly on SQLite means a deferred BEGIN: reads and temp-table writes only.
        self.conn.info["tenure_readonly"] = True
        try:
            with self.conn.begin():
                yield
        finally:
            self.conn.info["tenure_readonly"] = False

    def _cursor(self) -> Any:
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        return raw.cursor()

    def _raw(self, sql: str) -> None:
        cursor = self._cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

