"""In-memory adapters for the service-level unit tests: real implementations of the
ports (tenure.services.ports), not mocks.

`FakeUnitOfWork` keeps the whole store in one `State`; a transaction works on a deep
copy and replaces the state only when the block ends without an exception, so a
refused request leaves nothing behind, exactly as a rolled-back SQL transaction. A
duplicate key raises `LostRace`, which `run()` retries, as the SQL unit of work does
for a unique-key collision. The SQL adapters are proven by tests/integration.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any, TypeVar

from tenure.domain.errors import ImportConflict
from tenure.domain.model import Claim
from tenure.services.ports import OutboxMessage, Tx

from .fake_cases import FakeCases, FakeSupportAgents
from .fake_creditors import FakeCreditors
from .fake_limits import FakeIdempotency, FakeRateLimits, FakeResetRequests, FakeThrottle
from .fake_redress import FakeRelay, FakeTransfers
from .fake_repositories import (
    FakeAccounts,
    FakeApiKeys,
    FakeAudit,
    FakeClaims,
    FakeCommands,
    FakeDevices,
    FakeNonces,
    FakeOutbox,
    FakePolicies,
    FakeResets,
    FakeSecondFactors,
    FakeSessions,
    FakeTerritory,
    FakeUnlocks,
    LostRace,
    State,
)
from .fake_retail import FakeRetail
from .fake_tenants import FakeBypassCodes, FakeEvents, FakeTenants
from .fake_webhooks import FakeWebhooks

T = TypeVar("T")
__all__ = ["FakeTx", "FakeUnitOfWork", "LostRace", "MemoryMailSink", "State", "UsedNonceSet"]


class FakeTx:
    """Every fake repository on one transaction's copy of the state."""

    def __init__(self, state: State) -> None:
        self.devices = FakeDevices(state)
        self.claims = FakeClaims(state)
        self.accounts = FakeAccounts(state)
        self.sessions = FakeSessions(state)
        self.nonces = FakeNonces(state)
        self.throttle = FakeThrottle(state)
        self.resets = FakeResets(state)
        self.audit = FakeAudit(state)
        self.outbox = FakeOutbox(state)
        self.api_keys = FakeApiKeys(state)
        self.idempotency = FakeIdempotency(state)
        self.policies = FakePolicies(state)
        self.territory = FakeTerritory(state)
        self.commands = FakeCommands(state)
        self.unlocks = FakeUnlocks(state)
        self.rate_limits = FakeRateLimits(state)
        self.reset_requests = FakeResetRequests(state)
        self.second_factors = FakeSecondFactors(state)
        self.tenants = FakeTenants(state)
        self.events = FakeEvents(state)
        self.bypass_codes = FakeBypassCodes(state)
        self.transfers = FakeTransfers(state)
        self.relay = FakeRelay(state)
        self.retail = FakeRetail(state)
        self.support_agents = FakeSupportAgents(state)
        self.cases = FakeCases(state)
        self.creditors = FakeCreditors(state)
        self.webhooks = FakeWebhooks(state)


class FakeUnitOfWork:
    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.commits = 0
        self.races: list[Callable[[State], None]] = []  # run before the next transaction ends

    @contextmanager
    def __call__(self, readonly: bool = False, wait: float | None = None) -> Iterator[Tx]:
        working = copy.deepcopy(self.state)
        yield FakeTx(working)
        if self.races:  # a concurrent writer committed first
            self.races.pop(0)(self.state)
            raise LostRace("a concurrent transaction committed first")
        if not readonly:
            self.state = working
            self.commits += 1

    def run(self, work: Callable[[Tx], T], attempts: int = 4,
            wait: float | None = None) -> T:
        for attempt in range(attempts):
            try:
                with self(wait=wait) as tx:
                    return work(tx)
            except LostRace:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def batch(self, works: Sequence[Callable[[Tx], T]], attempts: int = 4,
              wait: float | None = None) -> list[T | Exception]:
        """Like the SQL batch's savepoints: a failed work is undone, the others kept."""
        results: list[T | Exception] = []
        for work in works:
            try:
                results.append(self.run(work, attempts, wait))
            except Exception as exc:  # noqa: BLE001 - returned, as the real batch does
                results.append(exc)
        return results

    @contextmanager
    def staging(self) -> Iterator[FakeStaging]:
        yield FakeStaging(self)

    # -- reading the committed state, for assertions ---------------------------------------
    def actions(self, stream: str | None = None) -> list[str]:
        return [e["action"] for e in self.state.audit if stream in (None, e["stream"])]

    def mail_to(self, address: str) -> list[OutboxMessage]:
        return [r["message"] for r in self.state.outbox.values()
                if r["message"].to_addr == address]

    def active_claims(self, device_id: str) -> tuple[Claim, ...]:
        return FakeClaims(self.state).active(device_id)


class MemoryMailSink:
    """Delivered messages, in order; `down` makes sends fail as an unreachable server."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.down = False

    def send(self, mail: EmailMessage) -> None:
        if self.down:
            raise ConnectionRefusedError("the mail server is not answering")
        self.sent.append(mail)


class UsedNonceSet:
    """Used nonces kept outside the database transaction, as Redis keeps them."""

    transactional = False

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def use(self, tx: Tx, nonce: str, expires_at: int, remaining: int) -> bool:
        if nonce in self.used:
            return False
        self.used[nonce] = expires_at
        return True


class FakeStaging:
    """Staged rows kept aside; the switch-in inserts them in one transaction (a
    clash with a row committed meanwhile imports nothing, as in the SQL adapter)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.devices: list[tuple[Any, ...]] = []
        self.imeis: list[tuple[str, str]] = []

    @contextmanager
    def chunk(self) -> Iterator[Tx]:
        with self.uow(readonly=True) as tx:
            yield tx

    def add(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None:
        self.devices.extend(devices)
        self.imeis.extend(imeis)

    def switch_in(self, finish: Callable[[Tx], None]) -> None:
        try:
            with self.uow() as tx:
                tx.devices.insert_many(self.devices, self.imeis)
                finish(tx)
        except LostRace as exc:
            raise ImportConflict("provisioned by another import meanwhile; nothing was "
                                 "imported") from exc
