"""The service-level unit tier: use cases wired to in-memory fakes (tests/unit/fakes.py)
and a FixedClock, with real cryptography; no database, no HTTP, no threads."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tenure.clock import FixedClock
from tenure.crypto.jws import parse_compact
from tenure.crypto.keyring import KeyRing
from tenure.crypto.keys import SigningKey
from tenure.domain.masking import mask_email
from tenure.domain.model import Claim, ClaimKind
from tenure.services.activation import Activation
from tenure.services.authn import OwnerActions
from tenure.services.binding import Binding
from tenure.services.checkin import CheckIn
from tenure.services.device_auth import DeviceRequest
from tenure.services.last_seen import LastSeen
from tenure.services.policy import PolicyStore
from tenure.services.ports import AccountRow, Tx
from tenure.services.records import RecordSigner
from tenure.services.territory_check import TerritoryCheck
from tenure.services.tokens import digest

from ..fakes import FakeUnitOfWork

COOLDOWN = 72 * 3600
REAUTH = 600
HOUR = 3600
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Seeded accounts carry an argon2id hash with light parameters: verifying it is
    quick, where the production parameters cost ~0.1 s a try. (Signing in with it
    upgrades it, which test_sign_in checks.)"""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.create(tmp_path_factory.mktemp("keys") / "keys")


class MapLocator:
    """IP address → territory, from a dict (the real locators read GeoIP files)."""

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = table or {}

    def locate(self, address: str) -> str | None:
        return self.table.get(address)


@dataclass
class Owner:
    account_id: str
    email: str
    token: str  # a live session, signed in at creation


@dataclass
class Phone:
    device_id: str
    key: SigningKey
    model: str = "Tenure Phone 1"
    sku: str = "TP1-128-BLK"
    market: str = "global"


@dataclass
class World:
    """A fake store, a clock, and shortcuts to put things in the store directly."""

    uow: FakeUnitOfWork
    clock: FixedClock
    keyring: KeyRing
    password_hash: str
    locator: MapLocator = field(default_factory=MapLocator)
    last_seen: LastSeen = field(default_factory=LastSeen)

    # -- seeding (committed, as if done by earlier requests) --------------------------------
    def owner(self, email: str | None = None) -> Owner:
        account_id = secrets.token_hex(16)
        address = email or f"owner-{account_id[:6]}@example.com"
        self.uow.state.accounts[account_id] = AccountRow(
            account_id, address, self.password_hash, None, self.clock.now())
        return Owner(account_id, address, self.session(account_id))

    def session(self, account_id: str, ttl: int = 30 * 24 * HOUR) -> str:
        token = secrets.token_urlsafe(32)
        with self.uow() as tx:
            tx.sessions.create(digest(token), account_id, self.clock.now(),
                               self.clock.now() + ttl)
        return token

    def sign_in_again(self, owner: Owner) -> Owner:
        owner.token = self.session(owner.account_id)
        return owner

    def phone(self, activated: bool = False, **kwargs: Any) -> Phone:
        phone = Phone(f"UT{secrets.token_hex(6).upper()}", SigningKey.generate(), **kwargs)
        with self.uow() as tx:
            tx.devices.insert_many([(phone.device_id, phone.model, phone.sku, phone.market,
                                     phone.key.key_type, phone.key.public().spki_der(),
                                     self.clock.now())], [])
            if activated:
                tx.devices.set_activated(phone.device_id, self.clock.now())
        return phone

    def claim(self, phone: Phone, kind: ClaimKind, holder: str, **kwargs: Any) -> Claim:
        claim = Claim(secrets.token_hex(16), phone.device_id, kind, holder, self.clock.now(),
                      **kwargs)
        with self.uow() as tx:
            tx.claims.add(claim)
        return claim

    def bind(self, phone: Phone, owner: Owner) -> Claim:
        return self.claim(phone, ClaimKind.OWNER, owner.account_id,
                          holder_hint=mask_email(owner.email))

    def apply_policy(self, text: str) -> None:
        PolicyStore(self.uow, self.clock, 0).apply(text, "test", "unit test")

    # -- running device use cases -----------------------------------------------------------
    def request(self, tx: Tx, phone: Phone, payload: dict[str, Any],
                source_ip: str | None = None) -> DeviceRequest:
        stored = tx.devices.get(phone.device_id)
        assert stored is not None
        return DeviceRequest(stored, payload, secrets.token_urlsafe(24), source_ip)

    def act(self, action: Callable[[Tx, DeviceRequest], str], phone: Phone,
            payload: dict[str, Any] | None = None, source_ip: str | None = None
            ) -> dict[str, Any]:
        """Run a device use case in one transaction; return the signed record's payload
        (its signature checked against the server key)."""
        def work(tx: Tx) -> str:
            return action(tx, self.request(tx, phone, payload or {}, source_ip))

        record = parse_compact(self.uow.run(work))
        assert record.verify_with(self.keyring.active.key.public())
        return record.payload()

    # -- wiring ------------------------------------------------------------------------------
    def signer(self) -> RecordSigner:
        return RecordSigner(self.keyring, self.clock, "https://tenure.test", 7 * 86400, 86400)

    def territory(self) -> TerritoryCheck:
        return TerritoryCheck(PolicyStore(self.uow, self.clock, 0), self.locator, self.clock)

    def activation(self) -> Activation:
        return Activation(self.signer(), self.clock, COOLDOWN, self.territory())

    def binding(self) -> Binding:
        return Binding(self.signer(), self.clock, OwnerActions(REAUTH, COOLDOWN))

    def checkin(self) -> CheckIn:
        return CheckIn(self.signer(), self.clock, COOLDOWN, self.territory(), self.last_seen)


@pytest.fixture
def world(clock: FixedClock, keyring: KeyRing, password_hash: str) -> World:
    return World(FakeUnitOfWork(), clock, keyring, password_hash)
