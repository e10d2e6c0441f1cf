"""The unit of work: one transaction, every repository on it, retried on a lost race.

The SQL adapter of the `UnitOfWork` and `Tx` ports (tenure.services.ports): it
satisfies them structurally, and mypy checks that where tenure.bootstrap wires it in."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from tenure.domain.errors import Unavailable

from .audit import AuditLog
from .case_repo import CaseRepo, SupportAgentRepo
from .credentials import ApiKeyRepo, IdempotencyRepo
from .creditors_repo import CreditorRepo
from .database import is_busy, is_conflict, is_serialization_failure, transaction
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

    devices = _repo(DeviceRepo)
    claims = _repo(ClaimRepo)
    accounts = _repo(AccountRepo)
    sessions = _repo(SessionRepo)
    nonces = _repo(NonceRepo)
    throttle = _repo(ThrottleRepo)
    resets = _repo(ResetRepo)
    audit = _repo(AuditLog)
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


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite can refuse a write at once when its lock is taken (`wait=0`).
        self.fails_fast = engine.dialect.name == "sqlite"

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

        Each work runs in a savepoint of its own: a work that fails is rolled back to
        its savepoint and its exception is returned in its place, without touching the
        others' writes; a work that lost a race is run again from its savepoint. If the
        transaction itself fails (BEGIN, COMMIT), it raises and nothing is committed —
        so whoever waits on a result hears of it only once it is durable."""
        results: list[T | Exception] = []
        with self(wait=wait) as outer:
            cursor: Any = outer.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for work in works:
                    results.append(_in_savepoint(cursor, outer.conn, work, attempts))
            finally:
                cursor.close()
        return results


def _unavailable(exc: Exception) -> Unavailable | None:
    """The 503 (with Retry-After) for a transaction that could not run now, or None."""
    if is_busy(exc):
        return Unavailable("The database is busy with a long write; retry shortly.",
                           retry_after=1)
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
            if is_busy(exc):
                return Unavailable("The database is busy with a long write; retry shortly.",
                                   retry_after=1)
            return exc
        cursor.execute("RELEASE SAVEPOINT tenure_work")
        return result
    raise AssertionError("unreachable")
