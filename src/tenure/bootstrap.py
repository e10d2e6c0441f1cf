"""The composition root: the one place that picks adapters and binds the use cases.

Everything settings-derived (cool-downs, re-authentication windows, TTLs, the unlock
rules) is bound here, once, into the use-case objects; routers and CLI commands take
the objects from the container and pass only what the request carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tenure.adapters.evidence import FileEvidence
from tenure.adapters.mail import make_sink
from tenure.adapters.redis_nonces import RedisUsedNonces
from tenure.adapters.webhooks import HttpWebhookSender
from tenure.clock import Clock, OffsetFileClock, SystemClock
from tenure.config import Settings
from tenure.crypto.keyring import KeyRing
from tenure.domain.creditor import LockRules
from tenure.domain.unlock import UnlockRules
from tenure.geo.ip import locator_from_settings
from tenure.services.account_deletion import AccountDeletion
from tenure.services.account_view import AccountView
from tenure.services.accounts import Registration
from tenure.services.activation import Activation
from tenure.services.apikeys import ApiKeys
from tenure.services.audit_search import AuditSearch
from tenure.services.authn import OwnerActions
from tenure.services.binding import Binding
from tenure.services.case_decide import CaseDecisions
from tenure.services.case_evidence import CaseEvidence
from tenure.services.case_open import OpenCase
from tenure.services.case_view import CaseViews
from tenure.services.checkin import CheckIn
from tenure.services.consents import OwnerConsent
from tenure.services.console_access import ConsoleAccess
from tenure.services.console_lookup import DeviceLookup
from tenure.services.creditor import CreditorDevices
from tenure.services.creditor_completion import CreditorCompletions
from tenure.services.device_gateway import DeviceGateway
from tenure.services.hashing import PasswordHashing
from tenure.services.idempotency import IdempotencyRecords
from tenure.services.last_seen import LastSeen
from tenure.services.limits import Limit
from tenure.services.lost_mode import LostMode
from tenure.services.mail import MailDispatcher
from tenure.services.maintenance import Maintenance
from tenure.services.nonces import NonceService
from tenure.services.organization import OrgDevices
from tenure.services.outbox_admin import OutboxAdmin
from tenure.services.owner_commands import OwnerCommands
from tenure.services.owner_devices import OwnerDevices
from tenure.services.password_reset import PasswordReset
from tenure.services.policy import PolicyStore
from tenure.services.provision import Importer
from tenure.services.records import RecordSigner
from tenure.services.relay import MessageRelay, RelayLimits
from tenure.services.retail_licenses import RetailerLicenses
from tenure.services.retail_sales import RetailSales
from tenure.services.sessions import SignIn
from tenure.services.status_check import StatusCheck
from tenure.services.support import SupportRole
from tenure.services.tenants import TenantAdmin
from tenure.services.territory_check import TerritoryCheck
from tenure.services.totp import SecondFactor
from tenure.services.transfers import Transfers
from tenure.services.unlock import UnlockAuthorization, rules_from
from tenure.services.webhooks import WebhookDispatcher
from tenure.store.database import make_engine
from tenure.store.uow import UnitOfWork


def clock_for(settings: Settings) -> Clock:
    if settings.clock_offset_file:
        return OffsetFileClock(Path(settings.clock_offset_file))
    return SystemClock()


def unlock_rules(settings: Settings) -> UnlockRules:
    return rules_from(settings.unlock_wait_hours, settings.unlock_quota,
                      settings.unlock_quota_days, settings.unlock_valid_days)


@dataclass
class Services:
    """Every use case, bound; plus what the HTTP and CLI edges need of the process
    (settings for request limits, the key set to publish, the SQL unit of work for
    health checks, migrations and audit verification)."""

    settings: Settings
    uow: UnitOfWork  # the SQL adapter itself: edges may need its engine
    keyring: KeyRing
    clock: Clock
    nonces: NonceService
    gateway: DeviceGateway
    activation: Activation
    binding: Binding
    checkin: CheckIn
    register: Registration
    sign_in: SignIn
    second_factor: SecondFactor
    account_view: AccountView  # the portal's account page: second factor, cool-down
    password_reset: PasswordReset
    owner_devices: OwnerDevices
    lost_mode: LostMode
    owner_commands: OwnerCommands
    unlock: UnlockAuthorization
    api_keys: ApiKeys
    tenants: TenantAdmin
    consents: OwnerConsent
    org_devices: OrgDevices
    retail_sales: RetailSales
    retailer_licenses: RetailerLicenses
    creditor: CreditorDevices
    importer: Importer
    policies: PolicyStore
    status_check: StatusCheck
    idempotency: IdempotencyRecords
    mail: MailDispatcher
    last_seen: LastSeen
    maintenance: Maintenance
    open_case: OpenCase
    case_evidence: CaseEvidence
    case_views: CaseViews
    case_decisions: CaseDecisions
    support: SupportRole
    hashing: PasswordHashing  # argon2's bounded, low-priority pool (shut down on close)
    transfers: Transfers
    delete_account: AccountDeletion
    relay: MessageRelay
    webhooks: WebhookDispatcher  # run by `tenure serve` beside the maintenance round
    outbox: OutboxAdmin
    webhook_sender: HttpWebhookSender
    console: ConsoleAccess  # who may use the support and operator console (/console)
    device_lookup: DeviceLookup
    audit_search: AuditSearch

    def close(self) -> None:
        self.maintenance.flush_last_seen()
        self.webhook_sender.close()
        self.hashing.close()
        self.uow.close()
        self.uow.engine.dispose()


def bootstrap(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or clock_for(settings)
    uow = UnitOfWork(make_engine(settings.effective_database_url,
                                 settings.database_wait_seconds))
    keyring = KeyRing.load(settings.keys_dir)
    used = RedisUsedNonces(settings.redis_url) if settings.redis_url else None
    nonces = NonceService(keyring.nonce_secret, clock, settings.nonce_ttl_seconds, used)
    signer = RecordSigner(keyring, clock, settings.issuer, settings.record_ttl_seconds,
                          settings.next_checkin_seconds, settings.effective_public_url)
    cooldown = settings.credential_cooldown_seconds
    reauth = settings.reauth_seconds
    rules = unlock_rules(settings)
    policies = PolicyStore(uow, clock, settings.policy_refresh_seconds)
    last_seen = LastSeen()
    territory = TerritoryCheck(policies, locator_from_settings(settings.geoip_db), clock)
    mail = MailDispatcher(uow, clock, make_sink(settings.smtp_url, settings.outbox_dir),
                          settings.mail_from)
    hashing = PasswordHashing(settings.password_hash_workers, settings.password_hash_queue,
                              settings.password_hash_nice, settings.password_hash_cost)
    owner_actions = OwnerActions(reauth, cooldown)
    window = settings.rate_window_seconds
    password_reset = PasswordReset(
        uow, clock, settings.password_reset_ttl_minutes, settings.credential_cooldown_hours,
        hashing, per_address=Limit("reset-ip", settings.password_reset_address_limit, window),
        per_email=Limit("reset-email", settings.password_reset_email_limit, window),
        public_url=settings.effective_public_url)
    idempotency = IdempotencyRecords(uow, clock)
    case_decisions = CaseDecisions(uow, clock, owner_actions,
                                   int(settings.objection_days * 86400))
    webhook_sender = HttpWebhookSender(settings.webhook_allow_insecure)
    sign_in = SignIn(uow, clock, int(settings.session_ttl_hours * 3600), hashing)
    return Services(
        settings=settings, uow=uow, keyring=keyring, clock=clock, nonces=nonces,
        gateway=DeviceGateway(uow, nonces),
        activation=Activation(signer, clock, cooldown, territory),
        binding=Binding(signer, clock, owner_actions),
        checkin=CheckIn(signer, clock, cooldown, territory, last_seen),
        register=Registration(uow, clock, hashing,
                              Limit("signup-ip", settings.signup_address_limit, window)),
        sign_in=sign_in,
        second_factor=SecondFactor(uow, clock, owner_actions),
        account_view=AccountView(uow, clock, owner_actions),
        password_reset=password_reset,
        owner_devices=OwnerDevices(uow, clock, rules, owner_actions, last_seen),
        lost_mode=LostMode(uow, clock, owner_actions),
        owner_commands=OwnerCommands(uow, clock, owner_actions),
        unlock=UnlockAuthorization(uow, keyring, clock, settings.issuer, rules, owner_actions),
        api_keys=ApiKeys(uow, clock),
        tenants=TenantAdmin(uow, clock, settings.webhook_allow_insecure),
        consents=OwnerConsent(uow, clock, owner_actions),
        org_devices=OrgDevices(uow, clock, last_seen),
        retail_sales=RetailSales(uow, clock),
        retailer_licenses=RetailerLicenses(uow, clock),
        creditor=CreditorDevices(uow, clock, LockRules(
            notice_seconds=int(settings.creditor_notice_hours * 3600))),
        importer=Importer(uow, clock),
        policies=policies,
        status_check=StatusCheck(uow, keyring, clock, settings.issuer, policies,
                                 per_address=Limit("status-ip", settings.status_rate, 60),
                                 per_device=Limit("status-device", settings.status_rate, 60)),
        idempotency=idempotency,
        mail=mail,
        last_seen=last_seen,
        maintenance=Maintenance(uow, clock, last_seen, mail, password_reset, idempotency,
                                window, case_decisions, CreditorCompletions(uow, clock)),
        open_case=OpenCase(uow, clock, policies),
        case_evidence=CaseEvidence(uow, clock, FileEvidence(settings.evidence_dir)),
        case_views=CaseViews(uow, clock),
        case_decisions=case_decisions,
        support=SupportRole(uow, clock),
        hashing=hashing,
        transfers=Transfers(uow, clock, owner_actions, public_url=settings.effective_public_url),
        delete_account=AccountDeletion(uow, clock, owner_actions),
        relay=MessageRelay(uow, clock, relay_limits(settings), settings.effective_public_url),
        webhooks=WebhookDispatcher(uow, clock, keyring, webhook_sender),
        outbox=OutboxAdmin(uow, clock),
        webhook_sender=webhook_sender,
        console=ConsoleAccess(uow, clock, sign_in),
        device_lookup=DeviceLookup(uow, clock, cooldown),
        audit_search=AuditSearch(uow, clock),
    )


def relay_limits(settings: Settings) -> RelayLimits:
    """docs/operator-guide.md: per client address, per sender address and per device in
    the rate window; replies per owner account."""
    window = settings.rate_window_seconds
    return RelayLimits(
        per_address=Limit("relay-ip", settings.relay_address_limit, window),
        per_sender=Limit("relay-sender", settings.relay_sender_limit, window),
        per_device=Limit("relay-device", settings.relay_device_limit, window),
        per_replier=Limit("relay-reply", settings.relay_sender_limit, window))
