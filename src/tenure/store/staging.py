"""A bulk import staged outside the shared write path, then switched in at once.

SQLite (`ImportStaging`): the rows of an import are checked against the store and
written to temporary tables of one dedicated connection, in chunks of short
transactions that take no write lock on the shared tables (a plain BEGIN, writes only
to the connection's own temp database). Nothing of it is visible to anyone else. The
switch-in is then one transaction of two `INSERT ... SELECT` statements and the
caller's audit event: all or nothing, and the only time the import holds the write
lock (about 3.5 µs a row, docs/decisions/0012-bulk-imports-staged.md).

PostgreSQL (`StreamingImport`): the import's own transaction is the staging area. Rows
are copied into the shared tables as they are checked, invisible to everyone else
(MVCC) until the one commit switches them all in; the uncommitted rows lock nothing a
device transaction needs (no one else can see them, let alone update them). This lets
the database insert while the importer's processes read on, instead of inserting
everything again at the end (docs/decisions/0016-parallel-import.md).

A device or IMEI inserted meanwhile by someone else makes the import fail on the
unique key: it is rolled back and `ImportConflict` raised, nothing imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, RootTransaction
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
CONFLICT = ("Devices or IMEIs of this file were provisioned by another import while it "
            "ran; nothing was imported. Import the file again to see which rows clash.")
BUSY = "The database stayed busy; nothing was imported. Import the file again."


def import_staging(engine: Engine) -> ImportStaging | StreamingImport:
    """The staging area for an import on this engine's database."""
    return StreamingImport(engine) if engine.dialect.name == "postgresql" else ImportStaging(engine)


class ImportStaging:
    """One SQLite import's staging area on its own connection (temporary tables are
    private to a connection). Use as a context manager; the tables go with it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "use ImportStaging as a context manager"
        return self._conn

    def __enter__(self) -> ImportStaging:
        self._conn = self.engine.connect()
        with self._chunk_tx():
            self._raw(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            self._raw(f"PRAGMA temp.cache_size=-{SQLITE_CACHE_KIB}")
            for statement in _SQLITE_TABLES:
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
        cursor = _cursor(self.conn)
        try:
            cursor.executemany(f"INSERT INTO {DEVICES} VALUES "
                               f"({', '.join('?' * len(DEVICE_COLUMNS))})", devices)
            cursor.executemany(f"INSERT INTO {IMEIS} VALUES (?, ?)", imeis)
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
                columns = ", ".join(DEVICE_COLUMNS)
                # Plain INSERTs: a clash raises (ON CONFLICT DO NOTHING and a row count
                # check cost PostgreSQL a speculative insertion a row, ~50 % more).
                conn.exec_driver_sql(
                    f"INSERT INTO devices ({columns}) SELECT {columns} FROM {DEVICES}")
                conn.exec_driver_sql(f"INSERT INTO device_imeis (imei, device_id) "
                                     f"SELECT imei, device_id FROM {IMEIS}")
                finish(Tx(conn))
        except IntegrityError as exc:
            raise ImportConflict(CONFLICT) from exc
        except Exception as exc:
            if is_busy(exc):
                raise Unavailable(BUSY, retry_after=1) from exc
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

    def _raw(self, sql: str) -> None:
        cursor = _cursor(self.conn)
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


class StreamingImport:
    """One PostgreSQL import: a transaction on its own connection, open from the first
    chunk to the switch-in (its commit). Use as a context manager; leaving it without
    a switch-in rolls everything back."""

    def __init__(self, engine: Engine, wait: float = SWITCH_IN_WAIT_SECONDS) -> None:
        self.engine = engine
        self.wait = wait
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "use StreamingImport as a context manager"
        return self._conn

    def __enter__(self) -> StreamingImport:
        self._conn = self.engine.connect()
        self._tx = self._conn.begin()
        # A row another import has inserted but not committed yet is waited for (then
        # the unique key decides); device traffic never waits for this transaction.
        self._conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self.wait * 1000)}")
        # The checks against the store look up a few thousand keys at a time by primary
        # key. The planner sizes the tables this transaction is filling from their
        # pages, and from some size on prefers reading them whole for each chunk
        # (measured: 60 times the work at 200 k rows); the index is always right here.
        self._conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return self

    def __exit__(self, *_: object) -> None:
        try:
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()
            self._conn = self._tx = None

    @contextmanager
    def chunk(self) -> Iterator[Tx]:
        """Reads of the store for one chunk, inside the import's transaction."""
        from .uow import Tx

        with self._errors():
            yield Tx(self.conn)

    def add(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None:
        """Copy rows into the shared tables (tuples in the order of DEVICE_COLUMNS, and
        (imei, device_id)); nobody sees them before the switch-in."""
        cursor = _cursor(self.conn)
        try:
            with self._errors():
                for table, columns, rows in (("devices", DEVICE_COLUMNS, devices),
                                             ("device_imeis", ("imei", "device_id"), imeis)):
                    if rows:
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) "
                                         "FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
        finally:
            cursor.close()

    def switch_in(self, finish: Callable[[Tx], None]) -> None:
        """Run `finish` (the audit event) and commit: every row appears at once."""
        from .uow import Tx

        assert self._tx is not None
        with self._errors():
            finish(Tx(self.conn))
            self._tx.commit()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if isinstance(exc, IntegrityError) or _sqlstate(exc) == "23505":  # unique key
                raise ImportConflict(CONFLICT) from exc
            if is_busy(exc):
                raise Unavailable(BUSY, retry_after=1) from exc
            raise


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a driver error (raw, as COPY raises it, or wrapped)."""
    orig = getattr(exc, "orig", exc)
    return str(getattr(orig, "sqlstate", None) or "")


def _cursor(conn: Connection) -> Any:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return raw.cursor()

