"""In-memory tenants, device assignments, consents, webhook events and bypass codes for
the service-level unit tests (the ports Tenants, Events and BypassCodes over `State`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tenure.services.ports import BypassCodeRow, TenantRow

from .fake_repositories import LostRace, _Repo

__all__ = ["FakeBypassCodes", "FakeEvents", "FakeTenants"]


class FakeTenants(_Repo):
    def create(self, tenant: TenantRow) -> None:
        if tenant.tenant_id in self.s.tenants:
            raise LostRace(tenant.tenant_id)
        self.s.tenants[tenant.tenant_id] = tenant

    def get(self, tenant_id: str) -> TenantRow | None:
        found: TenantRow | None = self.s.tenants.get(tenant_id)
        return found

    def all(self) -> list[TenantRow]:
        return sorted(self.s.tenants.values(), key=lambda r: (r.created_at, r.tenant_id))

    def disable(self, tenant_id: str, now: int) -> bool:
        row = self.s.tenants.get(tenant_id)
        if row is None or row.disabled_at is not None:
            return False
        self.s.tenants[tenant_id] = replace(row, disabled_at=now)
        return True

    def assign(self, tenant_id: str, device_ids: Sequence[str], now: int) -> int:
        fresh = 0
        for device_id in dict.fromkeys(device_ids):
            if device_id not in self.s.devices:
                raise LostRace(f"foreign key: no device {device_id}")
            if (tenant_id, device_id) not in self.s.tenant_devices:
                self.s.tenant_devices[(tenant_id, device_id)] = now
                fresh += 1
        return fresh

    def assigned(self, tenant_id: str, device_ids: Sequence[str]) -> set[str]:
        return {d for d in device_ids if (tenant_id, d) in self.s.tenant_devices}

    def consent(self, device_id: str, tenant_id: str, account_id: str, now: int) -> None:
        self.s.consents.setdefault((device_id, tenant_id, account_id), now)

    def consents(self, tenant_id: str, device_ids: Sequence[str]) -> dict[str, set[str]]:
        wanted = set(device_ids)
        found: dict[str, set[str]] = {}
        for (device_id, tenant, account_id) in self.s.consents:
            if tenant == tenant_id and device_id in wanted:
                found.setdefault(device_id, set()).add(account_id)
        return found


class FakeEvents(_Repo):
    def emit(self, tenant_id: str, event: str, device_id: str, at: int,
             fields: Mapping[str, Any]) -> str:
        event_id = secrets.token_hex(16)
        seq = 1 + sum(1 for e in self.s.events
                      if e["tenant_id"] == tenant_id and e["device_id"] == device_id)
        payload = {**fields, "id": event_id, "aud": tenant_id, "event": event,
                   "device_id": device_id, "at": at}
        json.dumps(payload)  # the SQL outbox stores JSON: a value it could not store is a bug
        self.s.events.append({"event_id": event_id, "tenant_id": tenant_id, "event": event,
                              "device_id": device_id, "seq": seq, "payload": payload,
                              "created_at": at, "delivered_at": None})
        return event_id


class FakeBypassCodes(_Repo):
    def get(self, device_id: str) -> BypassCodeRow | None:
        found: BypassCodeRow | None = self.s.bypass_codes.get(device_id)
        return found

    def put(self, row: BypassCodeRow) -> None:
        self.s.bypass_codes[row.device_id] = row

    def spend(self, device_id: str, code_hash: str, now: int) -> bool:
        row = self.s.bypass_codes.get(device_id)
        if row is None or row.code_hash != code_hash or row.spent_at is not None:
            return False
        self.s.bypass_codes[device_id] = replace(row, spent_at=now)
        return True

    def drop(self, device_id: str) -> None:
        self.s.bypass_codes.pop(device_id, None)
