"""The unit of work: one transaction, every repository on it, retried on a lost race."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine

from .audit import AuditLog
from .credentials import ApiKeyRepo, IdempotencyRepo
from .database import is_conflict, transaction
from .outbox import Outbox
from .repositories import (
    AccountRepo,
    ClaimRepo,
    DeviceRepo,
    NonceRepo,
    ResetRepo,
    SessionRepo,
    ThrottleRepo,
)
from .territory_repo import CommandRepo, PolicyRepo, TerritoryRepo
from .unlock_repo import UnlockRepo

T = TypeVar("T")


class Tx:
    """What a use case sees of the store inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.devices = DeviceRepo(conn)
        self.claims = ClaimRepo(conn)
        self.accounts = AccountRepo(conn)
        self.sessions = SessionRepo(conn)
        self.nonces = NonceRepo(conn)
        self.throttle = ThrottleRepo(conn)
        self.resets = ResetRepo(conn)
        self.audit = AuditLog(conn)
        self.outbox = Outbox(conn)
        self.api_keys = ApiKeyRepo(conn)
        self.idempotency = IdempotencyRepo(conn)
        self.policies = PolicyRepo(conn)
        self.territory = TerritoryRepo(conn)
        self.commands = CommandRepo(conn)
        self.unlocks = UnlockRepo(conn)


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def __call__(self, readonly: bool = False) -> Iterator[Tx]:
        with transaction(self.engine, readonly=readonly) as conn:
            yield Tx(conn)

    def run(self, work: Callable[[Tx], T], attempts: int = 4) -> T:
        """Run `work` in a transaction, again from the start if it lost a race."""
        for attempt in range(attempts):
            try:
                with self() as tx:
                    return work(tx)
            except Exception as exc:
                if attempt == attempts - 1 or not is_conflict(exc):
                    raise
        raise AssertionError("unreachable")
