"""Opening an appeal case (docs/redress.md; docs/protocol.md Part 2, "Appeals").

The applicant proves they hold the device with an appeal token: a compact JWS the
device shows on its lock screen, signed by its own key (`typ` tenure-appeal+jwt,
payload {sub, iat, nonce}), at most 24 hours old. A case is against one held claim of
its kind; a territory case covers the policy rules that refuse or lock the device
when it is opened (and a held territory claim, if any). An open case of the same
applicant about the same claim is not refused here: the contract makes
`duplicate-case` a refusal reason, so support refuses it (the support view lists it
under `duplicates`).
"""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass
from typing import Any

from tenure import protocol
from tenure.clock import Clock
from tenure.crypto.jws import JWSError, parse_compact
from tenure.crypto.keys import load_spki_der
from tenure.domain.case_request import CaseRequest, read_case_request
from tenure.domain.cases import CLAIM_KIND, CaseKind, CaseState
from tenure.domain.errors import DeviceHeld, InvalidAppealToken, NotFound
from tenure.domain.model import ClaimKind
from tenure.domain.provisioning import is_device_id
from tenure.domain.status import restricting_rules
from tenure.geo.currencies import is_currency

from . import case_notices
from .authn import require_session
from .policy import PolicyStore
from .ports import CaseRow, StoredDevice, Tx, UnitOfWork

MAX_TOKEN_AGE = 24 * 3600
CLOCK_SKEW = 300
_B64U_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True, slots=True)
class AppealToken:
    device_id: str
    issued_at: int
    jws: Any


def read_appeal_token(token: object) -> AppealToken:
    """The token's claims, unverified; `400 invalid-appeal-token` for anything else."""
    if not isinstance(token, str) or len(token) > 4096:
        raise InvalidAppealToken("'appeal_token' must be the token the device's lock screen "
                                 "shows.")
    try:
        jws = parse_compact(token)
        payload = jws.payload()
    except JWSError as exc:
        raise InvalidAppealToken(f"'appeal_token' is not a compact JWS: {exc}.") from exc
    if not jws.has_type(protocol.APPEAL_TYP):
        raise InvalidAppealToken(f"This is not an appeal token (typ must be "
                                 f"{protocol.APPEAL_TYP}).")
    sub, nonce, iat = payload.get("sub"), payload.get("nonce"), payload.get("iat")
    if not (isinstance(sub, str) and isinstance(nonce, str) and _B64U_NONCE.fullmatch(nonce)
            and isinstance(iat, int) and not isinstance(iat, bool)):
        raise InvalidAppealToken("The appeal token needs 'sub', 'nonce' (b64u) and 'iat'.")
    return AppealToken(sub, iat, jws)


def verify_appeal_token(token: AppealToken, stored: StoredDevice, now: int) -> None:
    if token.device_id != stored.device.device_id:
        raise InvalidAppealToken("The appeal token was made by another device.")
    if not token.jws.verify_with(load_spki_der(stored.public_key)):
        raise InvalidAppealToken("The appeal token was not signed by this device's key.")
    if token.issued_at < now - MAX_TOKEN_AGE or token.issued_at > now + CLOCK_SKEW:
        raise InvalidAppealToken("The appeal token is older than 24 hours; show a fresh one "
                                 "on the device (`tenure device appeal-token`).")


class OpenCase:
    def __init__(self, uow: UnitOfWork, clock: Clock, policies: PolicyStore) -> None:
        self.uow = uow
        self.clock = clock
        self.policies = policies

    def __call__(self, bearer: str | None, data: dict[str, Any]) -> CaseRow:
        def work(tx: Tx) -> CaseRow:
            now = self.clock.now()
            session = require_session(tx, bearer, now)
            today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
            request = read_case_request(data, is_currency, today)
            token = read_appeal_token(request.appeal_token)
            stored = self._device(tx, request)
            verify_appeal_token(token, stored, now)
            claim_id, rules = self._target(tx, stored, request.kind)
            case = CaseRow(
                case_id=secrets.token_hex(16), device_id=stored.device.device_id,
                kind=request.kind.value, applicant_id=session.account_id, claim_id=claim_id,
                rules=rules, statement=request.statement, purchase=request.purchase,
                state=CaseState.OPEN.value, round=1, approvals=(), opened_at=now,
                window_ends_at=None)
            tx.cases.add(case)
            tx.cases.add_history(case.case_id, now, CaseState.OPEN.value, None)
            tx.audit.record(f"device:{case.device_id}", "case.opened",
                            actor=f"account:{session.account_id}", at=now,
                            case=case.case_id, kind=case.kind, claim=claim_id,
                            rules=list(rules) if rules is not None else None)
            case_notices.opened(tx, session.email, case, now)
            return case

        return self.uow.run(work)

    @staticmethod
    def _device(tx: Tx, request: CaseRequest) -> StoredDevice:
        device_id = request.device_id
        if request.imei is not None:
            device_id = tx.devices.existing_imeis([request.imei]).get(request.imei)
        stored = (tx.devices.get(device_id)
                  if device_id is not None and is_device_id(device_id) else None)
        if stored is None:
            raise NotFound("No device with this id or IMEI is known.")
        return stored

    def _target(self, tx: Tx, stored: StoredDevice,
                kind: CaseKind) -> tuple[str | None, tuple[str, ...] | None]:
        """The held claim the case is against (and a territory case's rules)."""
        claims = stored.claims
        held = [c for c in claims if c.kind is CLAIM_KIND[kind]]
        if kind is CaseKind.TERRITORY:
            policy = self.policies.current(tx).policy
            rules = set(restricting_rules(policy, stored.device, stored.exemptions))
            rules |= {c.holder.removeprefix("policy:") for c in held}
            if not rules:
                raise NotFound("No territory rule refuses or locks this device.")
            return (held[0].claim_id if held else None), tuple(sorted(rules))
        if kind is CaseKind.ACTIVATION_LOCK and any(c.kind is ClaimKind.LOST for c in claims):
            raise DeviceHeld("This device is reported lost by its owner; an activation-lock "
                             "case cannot be opened while it is.")
        if not held:
            raise NotFound(f"This device has no {kind.value} claim to appeal against.")
        return held[0].claim_id, None
