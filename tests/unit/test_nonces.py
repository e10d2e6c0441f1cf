"""Replay nonces without the database: issuing and the stateless check `expiry()`.

`use()` (single use across replicas) needs a database and is an integration test.
"""

from __future__ import annotations

import secrets

import pytest

from tenure.clock import FixedClock
from tenure.crypto.b64 import b64u_decode, b64u_encode
from tenure.domain.errors import BadNonce
from tenure.services.nonces import NonceService

TTL = 300  # PROTOCOL.md: valid for at least 5 minutes
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def service(clock: FixedClock) -> NonceService:
    return NonceService(secrets.token_bytes(32), clock, TTL)


def test_issued_nonce_is_b64url_of_at_least_16_bytes(service: NonceService) -> None:
    """The protocol's wire format: base64url without padding, 16 or more bytes."""
    nonce = service.issue()
    assert set(nonce) <= set(ALPHABET)
    assert len(b64u_decode(nonce)) >= 16


def test_nonces_are_unique(service: NonceService) -> None:
    """Two requests in the same second must not get the same nonce."""
    assert len({service.issue() for _ in range(200)}) == 200


def test_fresh_nonce_accepted_until_ttl(service: NonceService, clock: FixedClock) -> None:
    nonce = service.issue()
    assert service.expiry(nonce) == clock.now() + TTL
    clock.advance(TTL - 1)
    assert service.expiry(nonce) == clock.now() + 1


def test_nonce_refused_after_ttl(service: NonceService, clock: FixedClock) -> None:
    """An expired nonce gets `bad-nonce`, telling the client to use the fresh one."""
    nonce = service.issue()
    clock.advance(TTL)
    with pytest.raises(BadNonce, match="expired"):
        service.expiry(nonce)


def test_other_replica_with_same_secret_accepts(clock: FixedClock) -> None:
    """Replicas share the key ring's nonce secret: a nonce from one is valid on another."""
    secret = secrets.token_bytes(32)
    nonce = NonceService(secret, clock, TTL).issue()
    assert NonceService(secret, clock, TTL).expiry(nonce) == clock.now() + TTL


def test_nonce_from_another_secret_refused(service: NonceService, clock: FixedClock) -> None:
    """A nonce minted by a different server (or forged) is not ours."""
    foreign = NonceService(secrets.token_bytes(32), clock, TTL).issue()
    with pytest.raises(BadNonce):
        service.expiry(foreign)


@pytest.mark.parametrize("garbage", [
    "", "nonce", "!!!!", "AAAA", "A" * 54, "A" * 53, "A" * 55, "=" * 8, "Gerät", " " * 54,
])
def test_garbage_refused(service: NonceService, garbage: str) -> None:
    with pytest.raises(BadNonce):
        service.expiry(garbage)


def test_nonce_with_extended_issue_time_refused(service: NonceService) -> None:
    """A client cannot make a nonce live longer by rewriting its timestamp."""
    raw = b64u_decode(service.issue())
    later = (int.from_bytes(raw[:8], "big") + 10 * TTL).to_bytes(8, "big")
    with pytest.raises(BadNonce):
        service.expiry(b64u_encode(later + raw[8:]))


def changed_at(nonce: str, index: int) -> list[str]:
    """Every other spelling of `nonce` with the character at `index` replaced."""
    return [nonce[:index] + c + nonce[index + 1:] for c in ALPHABET if c != nonce[index]]


def test_nonce_with_one_character_changed_refused(service: NonceService) -> None:
    """Any altered nonce is refused (all positions but the last; that one is below)."""
    nonce = service.issue()
    for index in range(len(nonce) - 1):
        for variant in changed_at(nonce, index):
            with pytest.raises(BadNonce):
                service.expiry(variant)


def test_nonce_with_last_character_changed_refused(service: NonceService) -> None:
    """The last character is where base64 hides unused bits; changing it must not pass either."""
    nonce = service.issue()
    accepted = []
    for variant in changed_at(nonce, len(nonce) - 1):
        try:
            service.expiry(variant)
        except BadNonce:
            continue
        accepted.append(variant)
    assert accepted == []
