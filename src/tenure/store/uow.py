"""The unit of work: one transaction, every repository on it, retried on a lost race.

The SQL adapter of the `UnitOfWork` and `Tx` ports (tenure.services.ports): it
satisfies them structurally, and mypy checks that where tenure.bootstrap wires it in."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from tenure.domain.errors import Unavailable

from .audit import AuditHeads, AuditLog
from .case_repo import CaseRepo, SupportAgentRepo
from .credentials import ApiKeyRepo, IdempotencyRepo
from .creditors_repo import CreditorRepo
from .database import begun, is_busy, is_conflict, is_serialization_failure, transaction
from .limits_repo import RateLimitRepo, ResetRequestRepo, ThrottleRepo
from .outbox import Outbox
from .redress_repo import RelayRepo, TransferRepo
from .repositories import (
    AccountRepo,
    ClaimRepo,
    DeviceRepo,
    NonceRepo,
    ResetRepo,
    SessionRepo,
)
from .retail_repo import RetailRepo
from .staging import ImportStaging, StreamingImport, import_staging
from .tenants_repo import BypassCodeRepo, EventRepo, TenantRepo
from .territory_repo import CommandRepo, PolicyRepo, TerritoryRepo
from .totp_repo import SecondFactorRepo
from .unlock_repo import UnlockRepo
from .webhooks_repo import WebhookRepo

T = TypeVar("T")
R = TypeVar("R")


def _repo(cls: Callable[[Connection], R]) -> functools.cached_property[R]:
    return functools.cached_property(lambda self: cls(self.conn))


class Tx:
    """What a use case sees of the store inside one transaction. Repositories are made
    on first use: a check-in touches four of them, not fifteen."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.audit_heads: AuditHeads = {}  # shared by the device read and the audit log

    @functools.cached_property
    def devices(self) -> DeviceRepo:
        return DeviceRepo(self.conn, self.audit_heads)

    @functools.cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.conn, self.audit_heads)

    claims = _repo(ClaimRepo)
    accounts = _repo(AccountRepo)
    sessions = _repo(SessionRepo)
    nonces = _repo(NonceRepo)
    throttle = _repo(ThrottleRepo)
    resets = _repo(ResetRepo)
    outbox = _repo(Outbox)
    api_keys = _repo(ApiKeyRepo)
    idempotency = _repo(IdempotencyRepo)
    policies = _repo(PolicyRepo)
    territory = _repo(TerritoryRepo)
    commands = _repo(CommandRepo)
    unlocks = _repo(UnlockRepo)
    rate_limits = _repo(RateLimitRepo)
    reset_requests = _repo(ResetRequestRepo)
    second_factors = _repo(SecondFactorRepo)
    tenants = _repo(TenantRepo)
    events = _repo(EventRepo)
    bypass_codes = _repo(BypassCodeRepo)
    transfers = _repo(TransferRepo)
    relay = _repo(RelayRepo)
    retail = _repo(RetailRepo)
    support_agents = _repo(SupportAgentRepo)
    cases = _repo(CaseRepo)
    creditors = _repo(CreditorRepo)
    webhooks = _repo(WebhookRepo)


HELD_IDLE_SECONDS = 1.0  # a lane connection idle longer goes back through the pool's ping


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite can refuse a write at once when its lock is taken (`wait=0`).
        self.fails_fast = engine.dialect.name == "sqlite"
        # The device lane's connection, kept checked out between batches (decision 0021).
        self._held: Connection | None = None
        self._held_used = 0.0
        self._held_lock = threading.Lock()

    def close(self) -> None:
        """Give the lane's connection back (before the engine is disposed)."""
        with self._held_lock:
            self._drop_held()

    def _drop_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            # A broken connection is discarded anyway.
            with contextlib.suppress(Exception):
                held.close()

    @contextmanager
    def _lane(self, wait: float | None) -> Iterator[Connection]:
        """One transaction on the lane's held connection: the pool's checkout, return and
        reset cost ~60 µs a transaction on SQLite, and on PostgreSQL the checkout's ping
        is a round trip (decision 0021). Only one caller at a time holds it; another
        (a thread's `_use_up`) takes a pooled connection as `__call__` does. A connection
        idle for HELD_IDLE_SECONDS goes back through the pool (and its ping); one the
        database dropped under a transaction is given up, and the transaction's
        requests answered 503 (nothing of them was committed)."""
        if not self._held_lock.acquire(blocking=False):
            with self(wait=wait) as tx:
                yield tx.conn
            return
        try:
            if self._held is not None and (
                    _dead(self._held)
                    or time.monotonic() - self._held_used > HELD_IDLE_SECONDS):
                self._drop_held()
            if self._held is None:
                self._held = self.engine.connect()
            conn = self._held
            try:
                with begun(conn, wait=wait):
                    yield conn
            except Exception as exc:
                if _broken(conn):
                    self._drop_held()
                    raise _lost() from exc
                unavailable = _unavailable(exc)
                if unavailable is None:
                    raise
                raise unavailable from exc
            finally:
                self._held_used = time.monotonic()
        finally:
            self._held_lock.release()

    @contextmanager
    def __call__(self, readonly: bool = False, wait: float | None = None) -> Iterator[Tx]:
        """One transaction. `wait` bounds the wait for SQLite's write lock (seconds;
        None: the engine's TENURE_DATABASE_WAIT_SECONDS). Running out of it raises
        `Unavailable`, as does any other lock, lock-timeout or pool-timeout failure, and
        a serialization failure or deadlock (this transaction ran once; `run` retries)."""
        try:
            with transaction(self.engine, readonly=readonly, wait=wait) as conn:
                yield Tx(conn)
        except Exception as exc:
            unavailable = _unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    def staging(self) -> ImportStaging | StreamingImport:
        """A bulk import's staging area, switched in at once (store/staging.py)."""
        return import_staging(self.engine)

    def run(self, work: Callable[[Tx], T], attempts: int = 4, wait: float | None = None) -> T:
        """Run `work` in a transaction, again from the start if it lost a race (a unique
        race, a deadlock, a serialization failure: SQLSTATE 40001, which CockroachDB and
        YugabyteDB raise on any contention). Without a pause: device work runs on the
        event loop, and the race is usually lost to one other transaction."""
        for attempt in range(attempts):
            try:
                with transaction(self.engine, wait=wait) as conn:
                    return work(Tx(conn))
            except Exception as exc:
                if attempt < attempts - 1 and is_conflict(exc):
                    continue
                unavailable = _unavailable(exc)
                if unavailable is None:
                    raise
                raise unavailable from exc
        raise AssertionError("unreachable")

    def batch(self, works: Sequence[Callable[[Tx], T]], attempts: int = 4,
              wait: float | None = None) -> list[T | Exception]:
        """Run several independent `work`s in ONE transaction, committed once (group
        commit, decision 0018): one fsync on SQLite, one COMMIT round trip on
        PostgreSQL, for all of them.

        It runs on the lane's held connection (`_lane`). Each work runs in a savepoint
        of its own (a batch of one: in the transaction alone, `_one`): a work that
        fails is rolled back to its savepoint and its exception is returned in its
        place, without touching the others' writes; a work that lost a race is run
        again from its savepoint. If the transaction itself fails (BEGIN, COMMIT), it
        raises and nothing is committed — so whoever waits on a result hears of it only
        once it is durable."""
        if len(works) == 1:
            return [self._one(works[0], attempts, wait)]
        results: list[T | Exception] = []
        with self._lane(wait) as conn:
            cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for work in works:
                    results.append(_in_savepoint(cursor, conn, work, attempts))
            finally:
                cursor.close()
        return results

    def _one(self, work: Callable[[Tx], T], attempts: int, wait: float | None
             ) -> T | Exception:
        """A batch of one, without the savepoint: the transaction holds nothing else, so
        rolling it back is rolling the work back (on PostgreSQL two round trips fewer).
        The work's failure is returned, as `batch` does; BEGIN's or COMMIT's raises."""
        for attempt in range(attempts):
            failed: list[Exception] = []
            try:
                with self._lane(wait) as conn:
                    try:
                        result = work(Tx(conn))
                    except Exception as exc:
                        failed.append(_lost() if _dead(conn) else exc)
                        raise
            except Exception:
                if not failed:
                    raise
                failure = failed[0]
                if attempt < attempts - 1 and is_conflict(failure):
                    continue
                return _busy() if is_busy(failure) else failure
            return result
        raise AssertionError("unreachable")


def _broken(conn: Connection) -> bool:
    """Whether a connection is no use for the next transaction: dead, or left inside a
    transaction that a rollback failed to end."""
    try:
        return conn.in_transaction() or _dead(conn)
    except Exception:  # noqa: BLE001 - whatever went wrong, do not use it again
        return True


def _dead(conn: Connection) -> bool:
    """Invalidated, or closed by the database (psycopg's `broken`; SQLite's never are)."""
    try:
        if conn.closed or conn.invalidated:
            return True
        raw = conn.connection.dbapi_connection
        return bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))
    except Exception:  # noqa: BLE001 - whatever went wrong, do not use it again
        return True


def _lost() -> Unavailable:
    """A connection the database dropped under a transaction: nothing was committed."""
    return Unavailable("The connection to the database was lost; retry shortly.",
                       retry_after=1)


def _busy() -> Unavailable:
    return Unavailable("The database is busy with a long write; retry shortly.",
                       retry_after=1)


def _unavailable(exc: Exception) -> Unavailable | None:
    """The 503 (with Retry-After) for a transaction that could not run now, or None."""
    if is_busy(exc):
        return _busy()
    if is_serialization_failure(exc):
        return Unavailable("The database could not order this request with others "
                           "running at the same time; retry shortly.", retry_after=1)
    return None


def _in_savepoint(cursor: Any, conn: Connection, work: Callable[[Tx], T],
                  attempts: int) -> T | Exception:
    """SAVEPOINT on the DBAPI cursor: SQLAlchemy's begin_nested costs more than the
    statements it issues, and the outer transaction is SQLAlchemy's to commit."""
    for attempt in range(attempts):
        cursor.execute("SAVEPOINT tenure_work")
        try:
            result = work(Tx(conn))
        except Exception as exc:  # noqa: BLE001 - returned to the work's own caller
            cursor.execute("ROLLBACK TO SAVEPOINT tenure_work")
            cursor.execute("RELEASE SAVEPOINT tenure_work")
            if attempt < attempts - 1 and is_conflict(exc):
                continue
            return _busy() if is_busy(exc) else exc
        cursor.execute("RELEASE SAVEPOINT tenure_work")
        return result
    raise AssertionError("unreachable")
