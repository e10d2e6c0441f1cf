"""Row shapes the repositories return where a domain entity is not the right shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenure.domain.in_use import TerritoryState
from tenure.domain.model import Claim, Device


@dataclass(frozen=True, slots=True)
class StoredDevice:
    device: Device
    key_type: str
    public_key: bytes  # DER SubjectPublicKeyInfo
    last_checkin_at: int | None
    territory: TerritoryState = TerritoryState()
    bootloader: str | None = None  # as the device last reported it
    claims: tuple[Claim, ...] = ()  # active, read with the device
    commands: tuple[dict[str, Any], ...] = ()  # pending, read with the device


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: str
    email: str
    password_hash: str
    password_changed_at: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    account_id: str
    authenticated_at: int
    expires_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class ThrottleRow:
    failures: int
    blocked_until: int
    last_failure_at: int


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    to_addr: str
    subject: str
    body: str
    attempts: int
