"""The schema. Portable to PostgreSQL-compatible distributed engines: every device-keyed
table leads with `device_id`, no cross-table sequences, times as integer Unix seconds."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("model", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("market", String(32), nullable=False),
    Column("key_type", String(8), nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # DER SubjectPublicKeyInfo
    Column("provisioned_at", BigInteger, nullable=False),
    Column("activated_at", BigInteger),  # null: never activated, or last activation refused
    Column("last_checkin_at", BigInteger),
)

device_imeis = Table(
    "device_imeis",
    metadata,
    Column("imei", String(15), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False, index=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # normalised to lower case
    Column("password_hash", String(255), nullable=False),
    Column("password_changed_at", BigInteger),  # null: never changed since sign-up
    Column("created_at", BigInteger, nullable=False),
    # The language the account's mail is written in (tenure.i18n.LOCALES), chosen at
    # sign-up from the request's language; null: English.
    Column("locale", String(16)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the bearer token
    Column("account_id", String(32), ForeignKey("accounts.account_id"), nullable=False,
           index=True),
    Column("authenticated_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    # How the sign-in was made: "password", "totp" or "recovery" (null: before appeals
    # recorded it). The support role needs a session opened with a second factor.
    Column("factor", String(16)),
)

claims = Table(
    "claims",
    metadata,
    Column("claim_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("holder", String(64), nullable=False),
    Column("holder_hint", String(128), nullable=False, server_default=""),
    Column("message", Text, nullable=False, server_default=""),
    Column("contact", String(255), nullable=False, server_default=""),
    Column("territory", String(8), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("released_at", BigInteger),
    Column("released_by", String(64)),
    Index("ix_claims_device_active", "device_id", "released_at"),
    Index("ix_claims_holder", "holder", "kind"),
    # One active owner claim per device, enforced by the database (two binds racing).
    Index(
        "uq_claims_one_active_owner",
        "device_id",
        unique=True,
        sqlite_where=text("kind = 'owner' AND released_at IS NULL"),
        postgresql_where=text("kind = 'owner' AND released_at IS NULL"),
    ),
    # One held organization claim per device (two organizations claiming at once).
    Index(
        "uq_claims_one_active_organization",
        "device_id",
        unique=True,
        sqlite_where=text("kind = 'organization' AND released_at IS NULL"),
        postgresql_where=text("kind = 'organization' AND released_at IS NULL"),
    ),
    # One held creditor claim per device (two creditors enrolling it at once).
    Index(
        "uq_claims_one_active_creditor",
        "device_id",
        unique=True,
        sqlite_where=text("kind = 'creditor' AND released_at IS NULL"),
        postgresql_where=text("kind = 'creditor' AND released_at IS NULL"),
    ),
)

used_nonces = Table(
    "used_nonces",
    metadata,
    Column("nonce", String(96), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("stream", String(100), nullable=False),  # e.g. device:<id>, account:<id>, system
    Column("seq", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("data", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("stream", "seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("to_addr", String(254), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", BigInteger),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", Text),
    Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.account_id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(128), primary_key=True),  # account:<id> or ip:<address>
    Column("failures", Integer, nullable=False),
    Column("blocked_until", BigInteger, nullable=False),
    Column("last_failure_at", BigInteger, nullable=False),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),  # <limit>:<subject>
    Column("window_start", BigInteger, nullable=False, index=True),
    Column("hits", Integer, nullable=False),
)

reset_requests = Table(
    "reset_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("email", String(254), nullable=False),  # as typed (normalised); may have no account
    Column("created_at", BigInteger, nullable=False, index=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    # The tenant a key of role organization|creditor|retailer acts for; null for admin roles.
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), index=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(160), nullable=False),  # principal + method + path
    Column("key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
    PrimaryKeyConstraint("scope", "key"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),  # the TOML as applied
    Column("sha256", String(64), nullable=False),
    Column("author", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("rollback_of", Integer),  # the version whose document this one restores
)

device_territory = Table(
    "device_territory",
    metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("territory", String(8)),  # last corroborated territory (ISO 3166-1/-2)
    Column("since", BigInteger),  # continuous presence there since; null when not present
    Column("warned_at", BigInteger),
    Column("warned_rule", String(64)),
    Column("updated_at", BigInteger, nullable=False),
    Column("exempt_rules", Text),  # JSON: rule ids granted by appeals (docs/redress.md)
    Index("ix_device_territory_territory", "territory"),
)

# The policy dry-run's input, kept by the database itself (triggers of migration 0014):
# devices with a last known territory, by what policy rules select on. Triggers on
# device_territory and devices append each change as a +1/-1 row to
# territory_count_changes, in the transaction that makes it (rows only appended: no
# device transaction waits for another's counter); the maintenance round folds them
# into territory_counts. The sum of both tables is exact at every commit.
territory_counts = Table(
    "territory_counts",
    metadata,
    Column("model", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("market", String(32), nullable=False),
    Column("territory", String(8), nullable=False),
    Column("in_use", Boolean, nullable=False),  # activated, and present there now
    Column("devices", BigInteger, nullable=False),
    PrimaryKeyConstraint("model", "sku", "market", "territory", "in_use"),
)

territory_count_changes = Table(
    "territory_count_changes",
    metadata,
    Column("model", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("market", String(32), nullable=False),
    Column("territory", String(8), nullable=False),
    Column("in_use", Boolean, nullable=False),
    Column("devices", Integer, nullable=False),  # +1, -1 (or a group's total)
)

device_commands = Table(
    "device_commands",
    metadata,
    Column("command_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # message | ring | wipe
    Column("body", Text, nullable=False),  # JSON members besides id and type
    Column("created_at", BigInteger, nullable=False),
    Column("acked_at", BigInteger),
    Column("issued_by", String(64)),  # the owner's account id (ring, wipe); null: the server
    Column("cancelled_at", BigInteger),  # withdrawn (a reset cancels wipes, a transfer all)
    Index("ix_device_commands_pending", "device_id", "acked_at"),
    Index("ix_device_commands_issued_by", "issued_by"),
)

unlock_grants = Table(
    "unlock_grants",
    metadata,
    Column("grant_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("account_id", String(32), ForeignKey("accounts.account_id"), nullable=False),
    Column("bl_nonce", String(128), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_unlock_grants_account", "account_id", "granted_at"),
)

device_bootloader = Table(
    "device_bootloader",
    metadata,
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("state", String(16), nullable=False),  # as last reported by the device
    Column("reported_at", BigInteger, nullable=False),
)

account_totp = Table(
    "account_totp",
    metadata,
    Column("account_id", String(32), ForeignKey("accounts.account_id"), primary_key=True),
    Column("secret", String(64), nullable=False),  # base32; never logged (decision 0013)
    Column("created_at", BigInteger, nullable=False),
    Column("enabled_at", BigInteger),  # null: enrolled, not confirmed yet
    Column("last_step", BigInteger),  # the last accepted time-step: a code works once
)

totp_recovery_codes = Table(
    "totp_recovery_codes",
    metadata,
    Column("account_id", String(32), ForeignKey("accounts.account_id"), primary_key=True),
    Column("code_hash", String(64), primary_key=True),  # sha256 hex of the code
    Column("used_at", BigInteger),
)

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(32), primary_key=True),  # opaque; named in audit events
    Column("kind", String(16), nullable=False),  # organization | creditor | retailer
    Column("name", String(200), nullable=False),
    Column("contact", String(255), nullable=False, server_default=""),
    Column("webhook_url", String(2048), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger),
)

tenant_devices = Table(
    "tenant_devices",
    metadata,
    # Devices the operator assigned to a tenant from the maker's sales records.
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False,
           index=True),
    Column("assigned_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("device_id", "tenant_id"),
)

consents = Table(
    "consents",
    metadata,
    # A bound owner's consent that a tenant may claim the device; it counts only while
    # the consenting account is still the bound owner.
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("account_id", String(32), ForeignKey("accounts.account_id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    PrimaryKeyConstraint("device_id", "tenant_id", "account_id"),
)

tenant_events = Table(
    "tenant_events",
    metadata,
    # The webhook outbox: written in the transaction of the change, delivered at least
    # once and in `seq` order per (tenant, device) by the dispatcher, with back-off.
    Column("event_id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),  # 1, 2, ... per (tenant, device)
    Column("event", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the JSON claims to sign, "id" and "aud" included
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("delivered_at", BigInteger),
    Column("failed_at", BigInteger),  # gave up (3 days of retries); shown to the operator
    # When to give up (NULL: created_at + 3 days); `tenure outbox retry` gives 3 days more.
    Column("give_up_at", BigInteger),
    Index("uq_tenant_events_order", "tenant_id", "device_id", "seq", unique=True),
    Index("ix_tenant_events_pending", "delivered_at", "failed_at", "next_attempt_at"),
)

bypass_codes = Table(
    "bypass_codes",
    metadata,
    # An organization's current activation bypass code for a device: only its hash.
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("code_hash", String(160), nullable=False),  # pbkdf2_sha256$iterations$salt$hash
    Column("issued_at", BigInteger, nullable=False),
    Column("spent_at", BigInteger),  # the activation it opened
)

transfers = Table(
    "transfers",
    metadata,
    Column("transfer_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("from_account", String(32), ForeignKey("accounts.account_id"), nullable=False),
    Column("to_email", String(254), nullable=False),  # normalised; the buyer's address
    Column("code_hash", String(128), nullable=False),  # PBKDF2-SHA256 of the mailed code
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False),  # pending|accepted|cancelled|voided|expired
    Column("ended_at", BigInteger),
    Column("to_account", String(32)),  # the buyer's account, once accepted
    Index("ix_transfers_from_account", "from_account", "state"),
    # One pending transfer per device, enforced by the database (two sellers' tabs racing).
    Index(
        "uq_transfers_one_pending",
        "device_id",
        unique=True,
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
)

relay_messages = Table(
    "relay_messages",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False),
    Column("from_addr", String(254), nullable=False),  # the sender's address, normalised
    Column("body", Text, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("client", String(64), nullable=False),  # the sender's address group (IP)
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger),
    Column("recipients", Integer),  # holders it was relayed to (known once confirmed)
    Column("owner_account", String(32)),  # the owner it reached: who may reply
    Column("replies", Integer, nullable=False, server_default="0"),
    Index("ix_relay_messages_from_addr", "from_addr", "created_at"),
    Index("ix_relay_messages_device_id", "device_id", "created_at"),
    Index("ix_relay_messages_created_at", "created_at"),
)

retail_sales = Table(
    "retail_sales",
    metadata,
    # A device's registered retail sale (docs/retailers.md); one per device, replaced
    # when its retailer corrects it.
    Column("device_id", String(64), ForeignKey("devices.device_id"), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False,
           index=True),
    Column("sold_on", String(10), nullable=False),  # YYYY-MM-DD
    Column("territory", String(16), nullable=False),  # ISO 3166-1/-2, normalised
    Column("licensed", Boolean, nullable=False),  # licensed there on that day
    Column("registered_at", BigInteger, nullable=False),
)

retailer_licenses = Table(
    "retailer_licenses",
    metadata,
    # The operator's licences for a retailer to sell into a territory, history kept:
    # a sale counts as licensed by the licence in force on its day.
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("territory", String(16), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    PrimaryKeyConstraint("tenant_id", "territory", "granted_at"),
)

support_agents = Table(
    "support_agents",
    metadata,
    Column("account_id", String(32), ForeignKey("accounts.account_id"), primary_key=True),
    Column("added_at", BigInteger, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False,
           index=True),
    Column("kind", String(16), nullable=False),
    Column("applicant_id", String(32), ForeignKey("accounts.account_id"), nullable=False,
           index=True),
    Column("claim_id", String(32)),  # null: a territory case against the policy's rules only
    Column("rules", Text),  # territory cases: JSON list of rule ids
    Column("statement", Text, nullable=False),
    Column("purchase", Text, nullable=False),  # canonical JSON
    Column("state", String(16), nullable=False),
    Column("round", Integer, nullable=False),
    Column("approvals", Text, nullable=False),  # JSON list: agents approving this round
    Column("opened_at", BigInteger, nullable=False),
    # The due time of the objection window: the maintenance round grants cases past it.
    Column("window_ends_at", BigInteger),
    Index("ix_cases_state", "state", "opened_at"),
    Index("ix_cases_window", "window_ends_at"),
)

case_history = Table(
    "case_history",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.case_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(32)),
    PrimaryKeyConstraint("case_id", "seq"),
)

case_decisions = Table(
    "case_decisions",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.case_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),  # account:<id> (agent or objecting owner)
    Column("decision", String(16), nullable=False),  # approve | refuse | objection
    Column("reason", Text),  # a refusal reason, an approval's note, an objection statement
    Column("round", Integer, nullable=False),
    PrimaryKeyConstraint("case_id", "seq"),
)

case_evidence = Table(
    "case_evidence",
    metadata,
    Column("evidence_id", String(32), primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),  # the file is var/evidence/<sha256>
    Column("content_type", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("added_at", BigInteger, nullable=False),
)

creditor_loans = Table(
    "creditor_loans",
    metadata,
    # A creditor claim's loan and its state machine (domain/creditor.py), one per claim.
    Column("claim_id", String(32), ForeignKey("claims.claim_id"), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.device_id"), nullable=False,
           index=True),
    Column("tenant_id", String(32), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("contact", String(255), nullable=False),
    Column("offline_lock_days", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("prior_state", String(16)),  # where a cancelled completion returns
    Column("notice_command_id", String(32), nullable=False),
    Column("notice_acknowledged_at", BigInteger),
    Column("locked_at", BigInteger),
    Column("lock_message", Text, nullable=False, server_default=""),
    Column("complete_at", BigInteger),  # due time of a completion: the maintenance loop's
    Column("created_at", BigInteger, nullable=False),
    Index("uq_creditor_loans_loan", "tenant_id", "loan_id", unique=True),
    Index("ix_creditor_loans_due", "state", "complete_at"),
)

creditor_reminders = Table(
    "creditor_reminders",
    metadata,
    # Reminders sent as device commands; when the device acknowledged each decides
    # whether a lock is allowed (docs/financing.md).
    Column("command_id", String(32), primary_key=True),
    Column("claim_id", String(32), ForeignKey("creditor_loans.claim_id"), nullable=False,
           index=True),
    Column("sent_at", BigInteger, nullable=False),
    Column("acked_at", BigInteger),
)
