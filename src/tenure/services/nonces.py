"""Replay nonces: stateless to issue, single-use through the database when consumed.

A nonce is b64u(issued-at ‖ 16 random bytes ‖ MAC). Issuing writes nothing, so every
answer (problems too) can carry a fresh one at no cost and unauthenticated traffic
cannot fill a table. Using one records it where every replica sees it: by default in
`used_nonces`, in the request's own transaction (the primary key refuses a second
use); with TENURE_REDIS_URL, as a Redis key set only if absent and expiring with the
nonce (an adapter in `tenure.adapters`), so that an ordinary check-in writes nothing
to the database at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct

from tenure.clock import Clock
from tenure.crypto.b64 import b64u_decode, b64u_encode
from tenure.domain.errors import BadNonce

from .ports import Tx, UsedNonces

_MAC_BYTES = 16
_RANDOM_BYTES = 16
_LENGTH = 8 + _RANDOM_BYTES + _MAC_BYTES
USED = "The nonce has already been used; use the fresh one in Replay-Nonce."


class DatabaseUsedNonces:
    transactional = True

    def use(self, tx: Tx, nonce: str, expires_at: int, remaining: int) -> bool:
        return tx.nonces.use(nonce, expires_at)


class NonceService:
    def __init__(self, secret: bytes, clock: Clock, ttl_seconds: int,
                 used: UsedNonces | None = None) -> None:
        self._secret = secret
        self._clock = clock
        self.ttl = ttl_seconds
        self.used: UsedNonces = used or DatabaseUsedNonces()

    @property
    def transactional(self) -> bool:
        return self.used.transactional

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self) -> str:
        body = struct.pack(">Q", self._clock.now()) + secrets.token_bytes(_RANDOM_BYTES)
        return b64u_encode(body + self._mac(body))

    def expiry(self, nonce: str) -> int:
        """When this nonce stops being valid; BadNonce if we never issued it or it expired."""
        try:
            raw = b64u_decode(nonce)
        except ValueError:
            raw = b""
        if len(raw) != _LENGTH or not hmac.compare_digest(raw[-_MAC_BYTES:],
                                                          self._mac(raw[:-_MAC_BYTES])):
            raise BadNonce("The nonce was not issued by this service; get a fresh one.")
        issued: int = struct.unpack(">Q", raw[:8])[0]
        expires = issued + self.ttl
        if self._clock.now() >= expires:
            raise BadNonce("The nonce has expired; use the fresh one in Replay-Nonce.")
        return expires

    def valid_expiry(self, nonce: str) -> int | None:
        """`expiry`, or None where it would raise."""
        try:
            return self.expiry(nonce)
        except BadNonce:
            return None

    def use(self, tx: Tx, nonce: str) -> None:
        expires = self.expiry(nonce)
        if not self.used.use(tx, nonce, expires, expires - self._clock.now()):
            raise BadNonce(USED)
