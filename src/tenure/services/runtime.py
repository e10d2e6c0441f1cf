"""Wiring: one place that builds the collaborators from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tenure.clock import Clock, OffsetFileClock, SystemClock
from tenure.config import Settings
from tenure.crypto.keyring import KeyRing
from tenure.domain.unlock import UnlockRules
from tenure.geo.ip import locator_from_settings
from tenure.store.database import make_engine
from tenure.store.uow import UnitOfWork

from .activation import Activation
from .binding import Binding
from .checkin import CheckIn
from .device_gateway import DeviceGateway
from .last_seen import LastSeen
from .mail import MailDispatcher, make_sink
from .nonces import NonceService, RedisUsedNonces
from .password_reset import PasswordReset
from .policy import PolicyStore
from .records import RecordSigner
from .sessions import SignIn
from .territory_check import TerritoryCheck
from .unlock import UnlockAuthorization, rules_from


def clock_for(settings: Settings) -> Clock:
    if settings.clock_offset_file:
        return OffsetFileClock(Path(settings.clock_offset_file))
    return SystemClock()


def unlock_rules(settings: Settings) -> UnlockRules:
    return rules_from(settings.unlock_wait_hours, settings.unlock_quota,
                      settings.unlock_quota_days, settings.unlock_valid_days)


@dataclass
class Runtime:
    settings: Settings
    uow: UnitOfWork
    keyring: KeyRing
    clock: Clock
    nonces: NonceService
    gateway: DeviceGateway
    activation: Activation
    binding: Binding
    checkin: CheckIn
    sign_in: SignIn
    password_reset: PasswordReset
    mail: MailDispatcher
    policies: PolicyStore
    last_seen: LastSeen
    unlock: UnlockAuthorization

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        clock = clock or clock_for(settings)
        uow = UnitOfWork(make_engine(settings.effective_database_url))
        keyring = KeyRing.load(settings.keys_dir)
        used = RedisUsedNonces(settings.redis_url) if settings.redis_url else None
        nonces = NonceService(keyring.nonce_secret, clock, settings.nonce_ttl_seconds, used)
        signer = RecordSigner(keyring, clock, settings.issuer, settings.record_ttl_seconds,
                              settings.next_checkin_seconds)
        cooldown = settings.credential_cooldown_seconds
        policies = PolicyStore(uow, clock, settings.policy_refresh_seconds)
        last_seen = LastSeen()
        territory = TerritoryCheck(policies, locator_from_settings(settings.geoip_db), clock)
        return cls(
            settings=settings, uow=uow, keyring=keyring, clock=clock, nonces=nonces,
            gateway=DeviceGateway(uow, nonces),
            activation=Activation(signer, clock, cooldown, territory),
            binding=Binding(signer, clock, cooldown, settings.reauth_seconds),
            checkin=CheckIn(signer, clock, cooldown, territory, last_seen),
            sign_in=SignIn(uow, clock, int(settings.session_ttl_hours * 3600)),
            password_reset=PasswordReset(uow, clock, settings.password_reset_ttl_minutes,
                                         settings.credential_cooldown_hours),
            mail=MailDispatcher(uow, clock, make_sink(settings.smtp_url, settings.outbox_dir),
                                settings.mail_from),
            policies=policies,
            last_seen=last_seen,
            unlock=UnlockAuthorization(uow, keyring, clock, settings.issuer, unlock_rules(settings),
                                       settings.reauth_seconds, cooldown),
        )

    def close(self) -> None:
        self.last_seen.flush(self.uow)
        self.uow.engine.dispose()
