"""Support looking a device up (`/console/devices`): by IMEI, by device id (the serial
number the factory registered) or by a creditor's loan id, then everything the server
knows of it — every claim made on it, held or released; the decision the server makes
for it now and why; its appeal cases; its audit trail.

Signed records are not stored (the device keeps them): what the server last answered
is not on file. The decision shown is the one `domain.decide` makes now from the
stored facts, for the act the device would ask for next (a check-in if it is
activated, an activation otherwise), without an account credential and without new
territory evidence — a territory lock in force is a claim and shows as one.

Read-only; for support agents and operators with an `admin` key (console_access.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.errors import InvalidInput, NotFound
from tenure.domain.model import Act, ClaimKind, Decision
from tenure.domain.provisioning import is_device_id, is_imei

from .console_access import require_reader
from .ports import (
    AuditEntry,
    AuditFilter,
    CaseRow,
    ClaimEntry,
    LoanRow,
    StoredDevice,
    Tx,
    UnitOfWork,
)

MAX_QUERY = 128
MAX_MATCHES = 20
TRAIL = 200  # the newest audit events shown; the audit page has the rest
MAX_CASES = 50


@dataclass(frozen=True, slots=True)
class Match:
    """One device a query found, and by what."""

    device_id: str
    model: str
    by: str  # "imei" | "device id" | "loan id"


@dataclass(frozen=True, slots=True)
class ClaimLine:
    entry: ClaimEntry
    tenant_name: str | None  # organization, creditor: the tenant's name
    loan: LoanRow | None  # a creditor claim's loan


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: StoredDevice
    imeis: list[str]
    claims: list[ClaimLine]  # every claim, in the order made
    act: Act  # the act the decision is for
    decision: Decision
    cases: list[CaseRow]
    trail: list[AuditEntry]  # newest first, at most TRAIL
    trail_complete: bool


@dataclass(frozen=True, slots=True)
class Lookup:
    query: str
    matches: list[Match]
    report: DeviceReport | None  # when exactly one device matches


class DeviceLookup:
    def __init__(self, uow: UnitOfWork, clock: Clock, credential_cooldown: int) -> None:
        self.uow = uow
        self.clock = clock
        self.cooldown = credential_cooldown

    def find(self, session_token: str | None, operator_key: str | None,
             query: object) -> Lookup:
        """The devices `query` names; the full report when it names one."""
        text = query.strip() if isinstance(query, str) else ""
        if len(text) > MAX_QUERY:
            raise InvalidInput(f"Search for at most {MAX_QUERY} characters: an IMEI, a "
                               "device id or a loan id.")
        with self.uow(readonly=True) as tx:
            require_reader(tx, session_token, operator_key, self.clock.now())
            matches = _matches(tx, text) if text else []
            report = self._report(tx, matches[0].device_id) if len(matches) == 1 else None
        return Lookup(text, matches, report)

    def device(self, session_token: str | None, operator_key: str | None,
               device_id: str) -> DeviceReport:
        with self.uow(readonly=True) as tx:
            require_reader(tx, session_token, operator_key, self.clock.now())
            if not is_device_id(device_id) or tx.devices.get(device_id) is None:
                raise NotFound("No device with this id is known.")
            return self._report(tx, device_id)

    def _report(self, tx: Tx, device_id: str) -> DeviceReport:
        stored = tx.devices.get(device_id)
        assert stored is not None
        lines = [_line(tx, entry) for entry in tx.claims.history(device_id)]
        loan = next((line.loan.loan for line in lines if line.loan is not None
                     and line.entry.released_at is None), None)
        act = Act.USE if stored.device.activated_at is not None else Act.ACTIVATE
        decision = decide(DecisionInput(
            device=stored.device, act=act, claims=stored.claims, now=self.clock.now(),
            credential_cooldown=self.cooldown, creditor=loan))
        trail = tx.audit.search(AuditFilter(stream=f"device:{device_id}"), TRAIL + 1)
        return DeviceReport(stored, tx.devices.imeis_of(device_id), lines, act, decision,
                            tx.cases.for_device(device_id, MAX_CASES), trail[:TRAIL],
                            len(trail) <= TRAIL)


def _matches(tx: Tx, text: str) -> list[Match]:
    found: dict[str, Match] = {}

    def add(device_id: str, by: str) -> None:
        if device_id not in found and len(found) < MAX_MATCHES:
            stored = tx.devices.get(device_id)
            if stored is not None:
                found[device_id] = Match(device_id, stored.device.model, by)

    if is_imei(text):
        for device_id in tx.devices.existing_imeis([text]).values():
            add(device_id, "imei")
    if is_device_id(text):
        add(text, "device id")
    for loan in tx.creditors.by_loan_id(text, MAX_MATCHES):
        add(loan.device_id, "loan id")
    return list(found.values())


def _line(tx: Tx, entry: ClaimEntry) -> ClaimLine:
    claim = entry.claim
    tenant = None
    if claim.kind in (ClaimKind.ORGANIZATION, ClaimKind.CREDITOR):
        row = tx.tenants.get(claim.holder)
        tenant = row.name if row is not None else None
    loan = tx.creditors.for_claim(claim.claim_id) if claim.kind is ClaimKind.CREDITOR else None
    return ClaimLine(entry, tenant, loan)
