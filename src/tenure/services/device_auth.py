"""Authenticating a signed device request (docs/protocol.md, "Signed requests")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenure.crypto.jws import ALLOWED_ALGS, JWSError, parse_flattened
from tenure.crypto.keys import load_spki_der
from tenure.domain.errors import (
    BadNonce,
    BadSignature,
    Malformed,
    UnknownDevice,
    UrlMismatch,
)
from tenure.domain.provisioning import is_device_id

from .device_payload import device_locale
from .nonces import USED, NonceService
from .ports import StoredDevice, Tx


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    device: StoredDevice
    payload: dict[str, Any]
    nonce: str
    source_ip: str | None = None  # the client address (after trusted proxies)

    @property
    def device_id(self) -> str:
        return self.device.device.device_id

    @property
    def locale(self) -> str | None:
        """The language the device asked its texts in (None: none we speak)."""
        return device_locale(self.payload)


def read_header(body: bytes) -> tuple[Any, dict[str, Any]]:
    """Parse the JWS and its protected header without touching the store."""
    try:
        jws = parse_flattened(body)
    except JWSError as exc:
        raise Malformed(f"The body is not a flattened JWS: {exc}.") from exc
    header = jws.header
    for name in ("alg", "kid", "nonce", "url"):
        if not isinstance(header.get(name), str) or not header[name]:
            raise Malformed(f"The protected header needs a string {name!r}.")
    return jws, header


@dataclass(frozen=True, slots=True)
class VerifiedJWS:
    """A request whose signature verified with a provisioned device's key."""

    jws: Any
    header: dict[str, Any]
    device: StoredDevice
    nonce_fresh: bool | None = None  # its use recorded with the read: was it unused?


def verify(tx: Tx, body: bytes, nonces: NonceService | None = None) -> VerifiedJWS:
    """Check kid, alg and signature, in that order.

    With `nonces` kept in the database, a well-formed nonce's use is recorded by the
    device's read itself (one round trip on PostgreSQL, decision 0021); `admit` then
    only looks at the outcome, in its place in the order of checks. A request that
    fails before that is rolled back, its nonce's use with it, as before."""
    jws, header = read_header(body)
    fresh: bool | None = None
    if not is_device_id(header["kid"]):
        stored = None
    elif nonces is not None and nonces.transactional and (
            expires := nonces.valid_expiry(header["nonce"])) is not None:
        stored, fresh = tx.devices.get_using_nonce(header["kid"], header["nonce"], expires)
    else:
        stored = tx.devices.get(header["kid"])
    if stored is None:
        raise UnknownDevice(f"No provisioned device has the id {header['kid']!r}.")
    if header["alg"] not in ALLOWED_ALGS:
        raise BadSignature(f"The algorithm {header['alg']!r} is not accepted.")
    key = load_spki_der(stored.public_key)
    if not jws.verify_with(key):
        raise BadSignature(
            "The signature does not verify with the device's registered "
            f"{key.key_type} key (alg {header['alg']!r}).")
    return VerifiedJWS(jws, header, stored, fresh)


def admit(tx: Tx, nonces: NonceService, verified: VerifiedJWS, path: str,
          source_ip: str | None = None, consume: bool = True) -> DeviceRequest:
    """Consume the nonce (unless this is a retry that already did), then check the
    signed url and the payload."""
    header = verified.header
    if consume and verified.nonce_fresh is None:
        nonces.use(tx, header["nonce"])
    elif consume and not verified.nonce_fresh:
        raise BadNonce(USED)
    if header["url"] != path:
        raise UrlMismatch(f"The signed url {header['url']!r} is not this endpoint ({path}).")
    try:
        payload = verified.jws.payload()
    except JWSError as exc:
        raise Malformed(f"The JWS payload is not a JSON object: {exc}.") from exc
    return DeviceRequest(verified.device, payload, header["nonce"], source_ip)
