"""The buyer's status check: a signed statement of whether a device is held, and where
the policy in force refuses or locks it (docs/protocol.md, "Buyers and redress").

No authentication, so it is limited per client address (an IPv6 /64 counts as one) and
per device, in the database so the limits hold across workers; the statement carries
booleans and territory codes only — nothing about who holds what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tenure import protocol
from tenure.clock import Clock
from tenure.crypto.jws import JWSError, parse_compact, sign_compact
from tenure.crypto.keyring import KeyRing
from tenure.domain.errors import DeviceNotFound, InvalidInput, Malformed, RateLimitExceeded
from tenure.domain.model import ClaimKind
from tenure.domain.provisioning import is_device_id, is_imei
from tenure.domain.status import address_group, territory_restrictions

from .limits import Limit
from .policy import PolicyStore
from .ports import Tx, UnitOfWork
from .retail_sales import sale_input

STATEMENT_SECONDS = 600
MAX_NONCE = 128
_B64U = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """One lookup as asked: exactly one of `imei` and `device_id`, and the buyer's nonce."""

    imei: str | None = None
    device_id: str | None = None
    nonce: str | None = None


def read_query(params: list[tuple[str, str]]) -> StatusQuery:
    """Check the query string: 400 for its shape, 422 for a value that cannot be one."""
    values: dict[str, str] = {}
    for name, value in params:
        if name in ("imei", "device_id", "nonce"):
            if name in values:
                raise Malformed(f"'{name}' is given more than once.")
            values[name] = value
    if ("imei" in values) == ("device_id" in values):
        raise Malformed("Give exactly one of 'imei' and 'device_id'.")
    if "imei" in values and not is_imei(values["imei"]):
        raise InvalidInput("'imei' must be 15 digits with a valid check digit.")
    if "device_id" in values and not is_device_id(values["device_id"]):
        raise InvalidInput("'device_id' is not a device id.")
    nonce = values.get("nonce")
    if nonce is not None and not (len(nonce) <= MAX_NONCE and _B64U.fullmatch(nonce)):
        raise InvalidInput(f"'nonce' must be 1 to {MAX_NONCE} base64url characters.")
    return StatusQuery(values.get("imei"), values.get("device_id"), nonce)


class StatusCheck:
    def __init__(self, uow: UnitOfWork, keyring: KeyRing, clock: Clock, issuer: str,
                 policies: PolicyStore, per_address: Limit, per_device: Limit) -> None:
        self.uow = uow
        self.keyring = keyring
        self.clock = clock
        self.issuer = issuer
        self.policies = policies
        self.per_address = per_address
        self.per_device = per_device

    def __call__(self, query: StatusQuery, client_address: str) -> str:
        """The compact JWS statement. The address is counted before the lookup, so
        probing for unknown devices spends the same allowance as asking for known ones."""
        group = address_group(client_address)
        wait = self.uow.run(lambda tx: self.per_address.over(tx, group, self.clock.now()))
        if wait is not None:
            raise RateLimitExceeded("Too many status lookups from your address; try later.",
                                    retry_after=wait)
        found = self.uow.run(lambda tx: self._read(tx, query))
        if isinstance(found, int):
            raise RateLimitExceeded("Too many status lookups of this device; try later.",
                                    retry_after=found)
        return self._sign(query, found)

    def _read(self, tx: Tx, query: StatusQuery) -> dict[str, Any] | int:
        """The statement's facts, or the seconds to wait when the device's limit is spent."""
        device_id = query.device_id
        if query.imei is not None:
            device_id = tx.devices.existing_imeis([query.imei]).get(query.imei)
        stored = tx.devices.get(device_id) if device_id is not None else None
        if stored is None:
            raise DeviceNotFound("No device with this IMEI or device id is known.")
        now = self.clock.now()
        wait = self.per_device.over(tx, stored.device.device_id, now)
        if wait is not None:
            return wait
        imeis = tx.devices.imeis_of(stored.device.device_id)
        kinds = {claim.kind for claim in stored.claims}
        policy = self.policies.current(tx).policy
        sale = sale_input(tx, stored.device.device_id) if policy.exempts_sales else None
        return {
            "sub": stored.device.device_id,
            "imei": query.imei or (imeis[0] if imeis else None),
            "activation_lock": ClaimKind.OWNER in kinds,
            "lost": ClaimKind.LOST in kinds,
            "financed": ClaimKind.CREDITOR in kinds,
            "organization": ClaimKind.ORGANIZATION in kinds,
            "territory_restrictions": territory_restrictions(policy, stored.device, sale,
                                                             stored.exemptions),
        }

    def _sign(self, query: StatusQuery, facts: dict[str, Any]) -> str:
        now = self.clock.now()
        payload: dict[str, Any] = {"iss": self.issuer, "sub": facts["sub"],
                                   "imei": facts["imei"], "iat": now,
                                   "exp": now + STATEMENT_SECONDS}
        if query.nonce is not None:
            payload["nonce"] = query.nonce
        payload.update({k: v for k, v in facts.items() if k not in ("sub", "imei")})
        key = self.keyring.integrator_key
        return sign_compact({"kid": key.kid, "typ": protocol.STATUS_TYP}, payload, key.key)

    def verified(self, statement: object) -> dict[str, Any]:
        """The payload of a statement this server signed, with any key it still publishes;
        `InvalidInput` for anything else. The pages read a statement back to put it in
        words and to hand it out as a file, and hand out only the server's own. Expiry
        is not checked: an old statement is still a faithful copy, and says when it
        lapsed."""
        refused = InvalidInput("This is not a status statement signed by this server.")
        if not isinstance(statement, str) or len(statement) > 4096:
            raise refused
        try:
            jws = parse_compact(statement)
            payload = jws.payload()
        except JWSError as exc:
            raise refused from exc
        kid = jws.header.get("kid")
        key = self.keyring.verifying_key(kid) if isinstance(kid, str) else None
        if key is None or not jws.has_type(protocol.STATUS_TYP) or not jws.verify_with(key):
            raise refused
        return payload
