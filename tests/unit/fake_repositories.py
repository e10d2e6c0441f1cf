"""In-memory repositories for the service-level unit tests (tests/unit/fakes.py wires
them into a unit of work). Each implements its port in tenure.services.ports over
plain dicts in one `State`."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tenure.domain.in_use import TerritoryState
from tenure.domain.model import Claim, ClaimKind, Device, claim_order
from tenure.services.ports import (
    AccountRow,
    ApiKeyRow,
    AuditEntry,
    AuditFilter,
    ChainCheck,
    ClaimEntry,
    CommandRow,
    MailEntry,
    OutboxMessage,
    OwnedDevice,
    PolicyVersion,
    QueueCounts,
    SessionRow,
    StoredDevice,
    StoredResponse,
    ThrottleRow,
    TotpRow,
)


class LostRace(Exception):
    """A duplicate key: what a concurrent writer would have caused; run() retries it."""


@dataclass
class DeviceRecord:
    device: Device
    key_type: str
    public_key: bytes
    provisioned_at: int
    imeis: list[str] = field(default_factory=list)
    last_checkin_at: int | None = None


@dataclass
class ClaimRecord:
    claim: Claim
    released_at: int | None = None
    released_by: str | None = None


@dataclass
class State:
    """Every table, as plain dicts and lists."""

    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    imeis: dict[str, str] = field(default_factory=dict)
    territory: dict[str, TerritoryState] = field(default_factory=dict)
    bootloader: dict[str, str] = field(default_factory=dict)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, AccountRow] = field(default_factory=dict)
    sessions: dict[str, SessionRow] = field(default_factory=dict)
    used_nonces: dict[str, int] = field(default_factory=dict)
    throttle: dict[str, ThrottleRow] = field(default_factory=dict)
    resets: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_keys: dict[str, ApiKeyRow] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    rate_limits: dict[str, tuple[int, int]] = field(default_factory=dict)  # window, hits
    reset_requests: dict[str, tuple[str, int]] = field(default_factory=dict)  # email, at
    policies: dict[int, PolicyVersion] = field(default_factory=dict)
    grants: list[dict[str, Any]] = field(default_factory=list)
    totp: dict[str, TotpRow] = field(default_factory=dict)
    exemptions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    support_agents: dict[str, int] = field(default_factory=dict)
    cases: dict[str, Any] = field(default_factory=dict)  # tests/unit/fake_cases.py
    recovery: dict[tuple[str, str], int | None] = field(default_factory=dict)  # used_at
    # Tenants (tests/unit/fake_tenants.py)
    tenants: dict[str, Any] = field(default_factory=dict)  # tenant_id -> TenantRow
    tenant_devices: dict[tuple[str, str], int] = field(default_factory=dict)  # (tenant, device)
    consents: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (dev, ten, acct)
    events: list[dict[str, Any]] = field(default_factory=list)
    bypass_codes: dict[str, Any] = field(default_factory=dict)  # device_id -> BypassCodeRow
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)  # tests/unit/fake_redress
    relay: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Retail sales (tests/unit/fake_retail.py)
    retail_sales: dict[str, Any] = field(default_factory=dict)  # device_id -> RetailSaleRow
    licenses: list[tuple[str, Any]] = field(default_factory=list)  # (tenant_id, License)
    # Creditor loans (tests/unit/fake_creditors.py)
    loans: dict[str, Any] = field(default_factory=dict)  # claim_id -> LoanRow
    reminders: dict[str, dict[str, Any]] = field(default_factory=dict)  # command_id -> row


class _Repo:
    def __init__(self, state: State) -> None:
        self.s = state


class FakeDevices(_Repo):
    def get(self, device_id: str) -> StoredDevice | None:
        found = self.s.devices.get(device_id)
        if found is None:
            return None
        commands = sorted((c for c in self.s.commands.values()
                           if c["device_id"] == device_id and c["acked_at"] is None
                           and c.get("cancelled_at") is None),
                          key=lambda c: (c["created_at"], c["id"]))
        return StoredDevice(
            found.device, found.key_type, found.public_key, found.last_checkin_at,
            self.s.territory.get(device_id, TerritoryState()), self.s.bootloader.get(device_id),
            FakeClaims(self.s).active(device_id),
            tuple({"id": c["id"], "type": c["kind"], **c["body"]} for c in commands),
            self.s.exemptions.get(device_id, ()))

    def get_using_nonce(self, device_id: str, nonce: str,
                        expires_at: int) -> tuple[StoredDevice | None, bool]:
        return self.get(device_id), FakeNonces(self.s).use(nonce, expires_at)

    def set_activated(self, device_id: str, at: int | None) -> None:
        record = self.s.devices[device_id]
        record.device = replace(record.device, activated_at=at)

    def existing_ids(self, device_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        return {d: (r.device.model, r.device.sku, r.device.market, r.public_key,
                    tuple(sorted(r.imeis)))
                for d in device_ids if (r := self.s.devices.get(d)) is not None}

    def existing_imeis(self, imeis: Sequence[str]) -> dict[str, str]:
        return {i: self.s.imeis[i] for i in imeis if i in self.s.imeis}

    def imeis_of(self, device_id: str) -> list[str]:
        return sorted(i for i, d in self.s.imeis.items() if d == device_id)

    def insert_many(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None:
        for device_id, model, sku, market, key_type, der, now in devices:
            if device_id in self.s.devices:
                raise LostRace(device_id)
            self.s.devices[device_id] = DeviceRecord(Device(device_id, model, sku, market),
                                                     key_type, bytes(der), now)
        for imei, device_id in imeis:
            if imei in self.s.imeis:
                raise LostRace(imei)
            self.s.imeis[imei] = device_id
            self.s.devices[device_id].imeis.append(imei)

    def owned_by(self, account_id: str) -> list[OwnedDevice]:
        owners = sorted((r.claim for r in self.s.claims.values()
                         if r.released_at is None and r.claim.kind is ClaimKind.OWNER
                         and r.claim.holder == account_id),
                        key=lambda c: (c.created_at, c.claim_id))
        return [OwnedDevice(c.device_id, d.device.model, d.last_checkin_at,
                            self.s.bootloader.get(c.device_id), c.created_at)
                for c in owners if (d := self.s.devices.get(c.device_id)) is not None]

    def note_checkins(self, seen: Mapping[str, int]) -> None:
        for device_id, at in seen.items():
            record = self.s.devices.get(device_id)
            if record is not None and (record.last_checkin_at or 0) < at:
                record.last_checkin_at = at


class FakeClaims(_Repo):
    def active(self, device_id: str) -> tuple[Claim, ...]:
        return tuple(sorted((r.claim for r in self.s.claims.values()
                             if r.claim.device_id == device_id and r.released_at is None),
                            key=claim_order))

    def active_for_devices(self, device_ids: Sequence[str]) -> dict[str, list[Claim]]:
        return {d: list(self.active(d)) for d in device_ids}

    def add(self, claim: Claim) -> None:
        if claim.claim_id in self.s.claims:
            raise LostRace(claim.claim_id)
        self.s.claims[claim.claim_id] = ClaimRecord(claim)

    def add_many(self, claims: Sequence[Claim]) -> None:
        for claim in claims:
            if claim.kind is ClaimKind.ORGANIZATION and any(
                    c.kind is ClaimKind.ORGANIZATION for c in self.active(claim.device_id)):
                raise LostRace(f"one organization claim per device: {claim.device_id}")
            self.add(claim)

    def release(self, claim_id: str, at: int, by: str) -> bool:
        record = self.s.claims.get(claim_id)
        if record is None or record.released_at is not None:
            return False
        record.released_at, record.released_by = at, by
        return True

    def set_text(self, claim_id: str, message: str, contact: str) -> bool:
        record = self.s.claims.get(claim_id)
        if record is None or record.released_at is not None:
            return False
        record.claim = replace(record.claim, message=message, contact=contact)
        return True

    def held_by(self, holder: str) -> list[Claim]:
        return sorted((r.claim for r in self.s.claims.values()
                       if r.claim.holder == holder and r.released_at is None),
                      key=lambda c: (c.created_at, c.claim_id))

    def history(self, device_id: str) -> list[ClaimEntry]:
        return [ClaimEntry(r.claim, r.released_at, r.released_by)
                for r in sorted(self.s.claims.values(),
                                key=lambda r: (r.claim.created_at, r.claim.claim_id))
                if r.claim.device_id == device_id]


class FakeAccounts(_Repo):
    def by_email(self, email: str) -> AccountRow | None:
        return next((a for a in self.s.accounts.values() if a.email == email), None)

    def by_id(self, account_id: str) -> AccountRow | None:
        return self.s.accounts.get(account_id)

    def create(self, account_id: str, email: str, password_hash: str, now: int,
               locale: str | None = None) -> bool:
        if account_id in self.s.accounts or self.by_email(email) is not None:
            return False
        self.s.accounts[account_id] = AccountRow(account_id, email, password_hash, None, now,
                                                 locale)
        return True

    def lock(self, account_id: str) -> None:
        """One fake transaction runs at a time: there is nothing to wait for."""

    def set_password(self, account_id: str, password_hash: str, now: int) -> None:
        self.s.accounts[account_id] = replace(self.s.accounts[account_id],
                                              password_hash=password_hash,
                                              password_changed_at=now)

    def erase(self, account_id: str, now: int) -> None:
        self.s.accounts[account_id] = replace(self.s.accounts[account_id],
                                              email=f"deleted:{account_id}", password_hash="!",
                                              password_changed_at=now)

    def rehash(self, account_id: str, password_hash: str) -> None:
        self.s.accounts[account_id] = replace(self.s.accounts[account_id],
                                              password_hash=password_hash)


class FakeSessions(_Repo):
    def create(self, token_hash: str, account_id: str, now: int, expires_at: int,
               factor: str = "password") -> None:
        if token_hash in self.s.sessions:
            raise LostRace(token_hash)
        self.s.sessions[token_hash] = SessionRow(account_id, now, expires_at, None, factor)

    def get(self, token_hash: str) -> SessionRow | None:
        return self.s.sessions.get(token_hash)

    def revoke_all(self, account_id: str, now: int) -> None:
        for key, row in self.s.sessions.items():
            if row.account_id == account_id and row.revoked_at is None:
                self.s.sessions[key] = replace(row, revoked_at=now)

    def revoke(self, token_hash: str, now: int) -> None:
        row = self.s.sessions.get(token_hash)
        if row is not None and row.revoked_at is None:
            self.s.sessions[token_hash] = replace(row, revoked_at=now)

    def delete_all(self, account_id: str) -> None:
        self.s.sessions = {k: r for k, r in self.s.sessions.items()
                           if r.account_id != account_id}


class FakeNonces(_Repo):
    def use(self, nonce: str, expires_at: int) -> bool:
        if nonce in self.s.used_nonces:
            return False
        self.s.used_nonces[nonce] = expires_at
        return True

    def purge(self, now: int) -> int:
        old = [n for n, exp in self.s.used_nonces.items() if exp < now]
        for nonce in old:
            del self.s.used_nonces[nonce]
        return len(old)


class FakeResets(_Repo):
    def create(self, token_hash: str, account_id: str, now: int, expires_at: int) -> None:
        self.s.resets[token_hash] = {"account_id": account_id, "expires_at": expires_at,
                                     "used_at": None}

    def redeem(self, token_hash: str, now: int) -> str | None:
        row = self.s.resets.get(token_hash)
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            return None
        row["used_at"] = now
        return str(row["account_id"])

    def invalidate_for(self, account_id: str, now: int) -> None:
        for row in self.s.resets.values():
            if row["account_id"] == account_id and row["used_at"] is None:
                row["used_at"] = now

    def delete_all(self, account_id: str) -> None:
        self.s.resets = {k: r for k, r in self.s.resets.items()
                         if r["account_id"] != account_id}


class FakeAudit(_Repo):
    def record(self, stream: str, action: str, actor: str, at: int, **data: Any) -> None:
        json.dumps(data)  # the SQL log stores JSON: a value it could not store is a bug
        self.s.audit.append({"stream": stream, "action": action, "actor": actor, "at": at,
                             "data": data})

    def record_many(self, action: str, actor: str, at: int,
                    entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        streams = [stream for stream, _ in entries]
        assert len(set(streams)) == len(streams), "record_many: a stream appears twice"
        for stream, data in entries:
            self.record(stream, action, actor, at, **data)

    def _entries(self) -> list[AuditEntry]:
        """The log as the SQL one reads it: sequence numbers per stream, JSON data."""
        seqs: Counter[str] = Counter()
        found = []
        for e in self.s.audit:
            seqs[e["stream"]] += 1
            found.append(AuditEntry(e["stream"], seqs[e["stream"]], e["at"], e["actor"],
                                    e["action"], json.dumps(e["data"], sort_keys=True)))
        return found

    def search(self, where: AuditFilter, limit: int) -> list[AuditEntry]:
        def matches(e: AuditEntry) -> bool:
            return ((where.stream is None or e.stream == where.stream)
                    and (not where.action or e.action.startswith(where.action))
                    and (where.actor is None or e.actor == where.actor)
                    and (where.since is None or e.at >= where.since)
                    and (where.until is None or e.at < where.until)
                    and (where.before is None or (e.at, e.stream, e.seq) < where.before))

        newest = sorted(self._entries(), key=lambda e: (e.at, e.stream, e.seq), reverse=True)
        return [e for e in newest if matches(e)][:limit]

    def verify_stream(self, stream: str, limit: int) -> ChainCheck:
        count = sum(1 for e in self.s.audit if e["stream"] == stream)  # no hashes here
        return ChainCheck(min(count, limit), None, complete=count <= limit)


class FakeOutbox(_Repo):
    def enqueue(self, to_addr: str, subject: str, body: str, now: int) -> None:
        message_id = secrets.token_hex(16)
        self.s.outbox[message_id] = {
            "message": OutboxMessage(message_id, to_addr, subject, body, 0),
            "created_at": now, "next_attempt_at": now, "sent_at": None, "last_error": None}

    def forget_sent_to(self, address: str) -> None:
        self.s.outbox = {k: r for k, r in self.s.outbox.items()
                         if r["message"].to_addr != address or r["sent_at"] is None}

    def due(self, now: int, limit: int = 100) -> list[OutboxMessage]:
        rows = sorted((r for r in self.s.outbox.values()
                       if r["sent_at"] is None and r["next_attempt_at"] <= now),
                      key=lambda r: r["created_at"])
        return [r["message"] for r in rows[:limit]]

    def lease(self, message_id: str, now: int, seconds: int) -> bool:
        row = self.s.outbox[message_id]
        if row["sent_at"] is not None or row["next_attempt_at"] > now:
            return False
        row["next_attempt_at"] = now + seconds
        return True

    def mark_sent(self, message_id: str, now: int) -> bool:
        row = self.s.outbox[message_id]
        if row["sent_at"] is not None:
            return False
        row["sent_at"] = now
        return True

    def mark_failed(self, message_id: str, attempts: int, retry_at: int, error: str) -> None:
        row = self.s.outbox[message_id]
        row["message"] = replace(row["message"], attempts=attempts)
        row["next_attempt_at"], row["last_error"] = retry_at, error[:2000]

    def listing(self, failed_only: bool, limit: int) -> list[MailEntry]:
        rows = sorted((r for r in self.s.outbox.values() if r["sent_at"] is None
                       and (r["last_error"] is not None or not failed_only)),
                      key=lambda r: (r["created_at"], r["message"].message_id))
        return [MailEntry(r["message"].message_id, r["message"].subject, r["created_at"],
                          r["message"].attempts, r["next_attempt_at"], r["last_error"],
                          r["sent_at"]) for r in rows[:limit]]

    def counts(self, since: int) -> QueueCounts:
        rows = list(self.s.outbox.values())
        return QueueCounts(sum(r["sent_at"] is None for r in rows),
                           sum(r["sent_at"] is None and r["last_error"] is not None
                               for r in rows),
                           sum((r["sent_at"] or -1) >= since for r in rows))

    def requeue(self, message_ids: list[str] | None, now: int) -> int:
        done = 0
        for message_id, r in self.s.outbox.items():
            if (r["sent_at"] is None and r["last_error"] is not None
                    and (message_ids is None or message_id in message_ids)):
                r["next_attempt_at"] = now
                r["message"] = replace(r["message"], attempts=0)
                done += 1
        return done


class FakeApiKeys(_Repo):
    def create(self, key_id: str, secret_hash: str, role: str, name: str, now: int,
               tenant_id: str | None = None) -> None:
        if key_id in self.s.api_keys:
            raise LostRace(key_id)
        self.s.api_keys[key_id] = ApiKeyRow(key_id, secret_hash, role, name, None, tenant_id)

    def revoke_for_tenant(self, tenant_id: str, now: int) -> list[str]:
        ids = [k for k, row in self.s.api_keys.items()
               if row.tenant_id == tenant_id and row.revoked_at is None]
        for key_id in ids:
            self.s.api_keys[key_id] = replace(self.s.api_keys[key_id], revoked_at=now)
        return ids

    def get(self, key_id: str) -> ApiKeyRow | None:
        return self.s.api_keys.get(key_id)

    def all(self) -> list[ApiKeyRow]:
        return list(self.s.api_keys.values())

    def revoke(self, key_id: str, now: int) -> bool:
        row = self.s.api_keys.get(key_id)
        if row is None or row.revoked_at is not None:
            return False
        self.s.api_keys[key_id] = replace(row, revoked_at=now)
        return True


class FakePolicies(_Repo):
    def latest_number(self) -> int:
        return max(self.s.policies, default=0)

    def get(self, version: int) -> PolicyVersion | None:
        return self.s.policies.get(version)

    def history(self) -> list[PolicyVersion]:
        return [self.s.policies[v] for v in sorted(self.s.policies, reverse=True)]

    def add(self, entry: PolicyVersion) -> None:
        if entry.version in self.s.policies:
            raise LostRace(f"policy version {entry.version}")
        self.s.policies[entry.version] = entry


class FakeTerritory(_Repo):
    def put(self, device_id: str, state: TerritoryState, now: int,
            first: bool = False) -> None:
        self.s.territory[device_id] = state

    def groups(self) -> list[tuple[str, str, str, str, bool, int]]:
        counts: Counter[tuple[str, str, str, str, bool]] = Counter()
        for device_id, state in self.s.territory.items():
            d = self.s.devices[device_id].device
            if state.territory is not None:
                in_use = d.activated_at is not None and state.since is not None
                counts[(d.model, d.sku, d.market, state.territory, in_use)] += 1
        return [(*key, n) for key, n in counts.items()]

    def count_changes_pending(self) -> bool:
        return False  # groups() counts from the state itself

    def fold_counts(self) -> int:
        return 0

    def exempt(self, device_id: str, rules: Sequence[str], now: int) -> None:
        self.s.exemptions[device_id] = tuple(sorted({*self.s.exemptions.get(device_id, ()),
                                                     *rules}))

    def locked_groups(self) -> list[tuple[str, str, str, str, int]]:
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for r in self.s.claims.values():
            if r.released_at is None and r.claim.kind is ClaimKind.TERRITORY:
                d = self.s.devices[r.claim.device_id].device
                counts[(d.model, d.sku, d.market, r.claim.territory)] += 1
        return [(*key, n) for key, n in counts.items()]


class FakeCommands(_Repo):
    def add(self, device_id: str, kind: str, body: dict[str, Any], now: int,
            issued_by: str | None = None) -> str:
        command_id = secrets.token_hex(8)
        self.s.commands[command_id] = {"id": command_id, "device_id": device_id, "kind": kind,
                                       "body": dict(body), "created_at": now, "acked_at": None,
                                       "issued_by": issued_by, "cancelled_at": None}
        return command_id

    def pending_count(self, device_id: str) -> int:
        return len(self.pending(device_id))

    def issued_by_account(self, account_id: str, device_ids: Sequence[str], since: int
                          ) -> dict[str, list[CommandRow]]:
        out: dict[str, list[CommandRow]] = {d: [] for d in device_ids}
        for c in sorted(self.s.commands.values(), key=lambda c: (c["created_at"], c["id"])):
            pending = c["acked_at"] is None and c["cancelled_at"] is None
            if (c["issued_by"] == account_id and c["device_id"] in out
                    and (c["created_at"] >= since or pending)):
                out[c["device_id"]].append(CommandRow(c["id"], c["device_id"], c["kind"],
                                                      c["created_at"], c["acked_at"],
                                                      c["cancelled_at"]))
        return out

    def cancel_issued(self, account_id: str, kind: str, now: int) -> list[tuple[str, str]]:
        found = []
        for c in sorted(self.s.commands.values(), key=lambda c: c["id"]):
            if (c["issued_by"] == account_id and c["kind"] == kind and c["acked_at"] is None
                    and c["cancelled_at"] is None):
                c["cancelled_at"] = now
                found.append((c["id"], c["device_id"]))
        return found

    def ack(self, device_id: str, command_ids: list[str], now: int) -> None:
        for command_id in command_ids:
            row = self.s.commands.get(command_id)
            if row and row["device_id"] == device_id and row["acked_at"] is None:
                row["acked_at"] = now

    def pending(self, device_id: str) -> list[dict[str, Any]]:
        stored = FakeDevices(self.s).get(device_id)
        return list(stored.commands) if stored else []

    def cancel_pending(self, device_id: str, now: int) -> int:
        rows = [r for r in self.s.commands.values()
                if r["device_id"] == device_id and r["acked_at"] is None
                and r.get("cancelled_at") is None]
        for row in rows:
            row["cancelled_at"] = now
        return len(rows)


class FakeUnlocks(_Repo):
    def grants_of(self, account_id: str, since: int) -> tuple[tuple[str, int], ...]:
        return tuple((g["device_id"], g["granted_at"]) for g in self.s.grants
                     if g["account_id"] == account_id and g["granted_at"] > since)

    def add(self, grant_id: str, device_id: str, account_id: str, bl_nonce: str, now: int,
            expires_at: int) -> None:
        self.s.grants.append({"grant_id": grant_id, "device_id": device_id,
                              "account_id": account_id, "bl_nonce": bl_nonce,
                              "granted_at": now, "expires_at": expires_at})

    def report_bootloader(self, device_id: str, state: str, now: int,
                          current: str | None) -> None:
        self.s.bootloader[device_id] = state


class FakeSecondFactors(_Repo):
    def get(self, account_id: str) -> TotpRow | None:
        return self.s.totp.get(account_id)

    def set_pending(self, account_id: str, secret: str, now: int) -> None:
        row = self.s.totp.get(account_id)
        if row is None or row.enabled_at is None:
            self.s.totp[account_id] = TotpRow(account_id, secret, None, None)

    def enable(self, account_id: str, step: int, now: int) -> bool:
        row = self.s.totp.get(account_id)
        if row is None or row.enabled_at is not None:
            return False
        self.s.totp[account_id] = replace(row, enabled_at=now, last_step=step)
        return True

    def use_step(self, account_id: str, step: int) -> bool:
        row = self.s.totp.get(account_id)
        if row is None or (row.last_step is not None and row.last_step >= step):
            return False
        self.s.totp[account_id] = replace(row, last_step=step)
        return True

    def add_recovery(self, account_id: str, code_hashes: list[str]) -> None:
        for h in code_hashes:
            self.s.recovery[(account_id, h)] = None

    def unused_recovery(self, account_id: str) -> list[str]:
        return [h for (a, h), used in self.s.recovery.items()
                if a == account_id and used is None]

    def use_recovery(self, account_id: str, code_hash: str, now: int) -> bool:
        if self.s.recovery.get((account_id, code_hash), 0) is not None:
            return False
        self.s.recovery[(account_id, code_hash)] = now
        return True

    def replace_recovery(self, account_id: str, code_hashes: list[str]) -> None:
        self.s.recovery = {k: v for k, v in self.s.recovery.items() if k[0] != account_id}
        self.add_recovery(account_id, code_hashes)

    def remove(self, account_id: str) -> None:
        self.s.totp.pop(account_id, None)
        self.s.recovery = {k: v for k, v in self.s.recovery.items() if k[0] != account_id}
