"""Every refusal of a signed device request: exact problem type and status, a fresh
Replay-Nonce with it, and nothing written to the store."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.crypto.b64 import b64u_decode, b64u_encode
from tenure.crypto.keys import SigningKey
from tenure.store import tables as t

from .helpers import (
    ACTIVATION,
    BIND,
    CHECKIN,
    JOSE,
    UNBIND,
    Accounts,
    Device,
    audit,
    claims,
    count,
    device_row,
    dump,
    no_store,
    raw_jws,
    rows,
)


@dataclass
class Ctx:
    device: Device  # provisioned Ed25519
    p256: Device  # provisioned P-256
    stranger: Device  # never provisioned
    clock: FixedClock
    runtime: Services

    def header(self, **changes: object) -> tuple[dict[str, object], str]:
        nonce = self.device.fresh_nonce()
        header: dict[str, object] = {"alg": "Ed25519", "kid": self.device.device_id,
                                     "nonce": nonce, "url": ACTIVATION}
        header.update(changes)
        return {k: v for k, v in header.items() if v is not None}, str(header["nonce"])


@pytest.fixture
def ctx(make_device: Callable[..., Device], clock: FixedClock, runtime: Services) -> Ctx:
    return Ctx(make_device("Ed25519"), make_device("P-256"),
               make_device("Ed25519", provisioned=False), clock, runtime)


Body = tuple[bytes | str | dict[str, str], str | None, str]  # body, nonce, content type


def _signed(ctx: Ctx, payload: object = None, **changes: object) -> Body:
    header, nonce = ctx.header(**changes)
    return raw_jws(header, {"signals": {}} if payload is None else payload,
                   ctx.device.key), nonce, JOSE


def _missing(name: str) -> Callable[[Ctx], Body]:
    return lambda ctx: _signed(ctx, **{name: None})


def _hs256(ctx: Ctx) -> Body:
    header, nonce = ctx.header(alg="HS256")
    unsigned = raw_jws(header, {"signals": {}}, None, signature=b"")
    mac = hmac.new(ctx.device.public_key_b64().encode(),
                   f"{unsigned['protected']}.{unsigned['payload']}".encode(), hashlib.sha256)
    return {**unsigned, "signature": b64u_encode(mac.digest())}, nonce, JOSE


def _none(ctx: Ctx) -> Body:
    header, nonce = ctx.header(alg="none")
    return raw_jws(header, {"signals": {}}, None, signature=b""), nonce, JOSE


def _es256_der(ctx: Ctx) -> Body:
    """ES256 with an ASN.1 DER signature instead of raw R||S (a common firmware mistake)."""
    nonce = ctx.device.fresh_nonce()
    header = {"alg": "ES256", "kid": ctx.p256.device_id, "nonce": nonce, "url": ACTIVATION}
    unsigned = raw_jws(header, {"signals": {}}, None, signature=b"")
    key = ctx.p256.key.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.sign(f"{unsigned['protected']}.{unsigned['payload']}".encode(),
                   ec.ECDSA(hashes.SHA256()))
    return {**unsigned, "signature": b64u_encode(der)}, nonce, JOSE


def _tampered(ctx: Ctx) -> Body:
    body, nonce, ctype = _signed(ctx)
    assert isinstance(body, dict)
    other = b64u_encode(json.dumps({"signals": {}, "account_token": "x"}).encode())
    return {**body, "payload": other}, nonce, ctype


def _forged_nonce(ctx: Ctx) -> Body:
    """Right length and shape, but not MACed by this server's nonce secret."""
    raw = bytearray(b64u_decode(ctx.device.fresh_nonce()))
    raw[-1] ^= 0x01
    return _signed(ctx, nonce=b64u_encode(bytes(raw)))


def _expired_nonce(ctx: Ctx) -> Body:
    nonce = ctx.device.fresh_nonce()
    ctx.clock.advance(ctx.runtime.settings.nonce_ttl_seconds)
    return _signed(ctx, nonce=nonce)


# Refused before the device is authenticated: nothing at all may be written, not even the
# nonce (the device can still use it once it signs correctly).
UNAUTHENTICATED: dict[str, tuple[str, int, Callable[[Ctx], Body]]] = {
    "not-json": ("malformed", 400, lambda ctx: (b"this is not json", None, JOSE)),
    "json-array": ("malformed", 400, lambda ctx: (b"[1, 2, 3]", None, JOSE)),
    "json-without-jws-members": ("malformed", 400, lambda ctx: ({"hello": "world"}, None, JOSE)),
    "compact-jws-as-json-string": (
        "malformed", 400, lambda ctx: (json.dumps("a.b.c"), None, JOSE)),
    "unprotected-header-member": (
        "malformed", 400,
        lambda ctx: ({**_signed(ctx)[0], "header": {"kid": "x"}}, None, JOSE)),  # type: ignore[dict-item]
    "protected-not-base64url": (
        "malformed", 400,
        lambda ctx: ({"protected": "***", "payload": "e30", "signature": ""}, None, JOSE)),
    "protected-not-an-object": (
        "malformed", 400,
        lambda ctx: ({"protected": b64u_encode(b"[1]"), "payload": "e30", "signature": ""},
                     None, JOSE)),
    "missing-alg": ("malformed", 400, _missing("alg")),
    "missing-kid": ("malformed", 400, _missing("kid")),
    "missing-nonce": ("malformed", 400, _missing("nonce")),
    "missing-url": ("malformed", 400, _missing("url")),
    "kid-not-a-string": ("malformed", 400, lambda ctx: _signed(ctx, kid=12345)),
    "wrong-content-type": (
        "malformed", 400, lambda ctx: (*_signed(ctx)[:2], "application/json")),
    "no-content-type": ("malformed", 400, lambda ctx: (*_signed(ctx)[:2], "")),
    "unknown-device": (
        "unknown-device", 401,
        lambda ctx: (*ctx.stranger.sign(ACTIVATION, {"signals": {}},
                                        nonce=ctx.device.fresh_nonce()), JOSE)),
    "wrong-key": (
        "bad-signature", 401,
        lambda ctx: (*ctx.device.sign(ACTIVATION, {}, key=SigningKey.generate("Ed25519"),
                                      nonce=ctx.device.fresh_nonce()), JOSE)),
    "es256-on-ed25519-device": (
        "bad-signature", 401,
        lambda ctx: (*ctx.device.sign(ACTIVATION, {}, alg="ES256",
                                      nonce=ctx.device.fresh_nonce()), JOSE)),
    "ed25519-on-p256-device": (
        "bad-signature", 401,
        lambda ctx: (*ctx.p256.sign(ACTIVATION, {}, alg="Ed25519", key=ctx.device.key,
                                    nonce=ctx.device.fresh_nonce()), JOSE)),
    "es256-der-signature": ("bad-signature", 401, _es256_der),
    "alg-none": ("bad-signature", 401, _none),
    "alg-hs256": ("bad-signature", 401, _hs256),
    "tampered-payload": ("bad-signature", 401, _tampered),
    "garbage-nonce": ("bad-nonce", 400, lambda ctx: _signed(ctx, nonce="not-a-nonce")),
    "forged-nonce": ("bad-nonce", 400, _forged_nonce),
    "expired-nonce": ("bad-nonce", 400, _expired_nonce),
}


@pytest.mark.parametrize("case", list(UNAUTHENTICATED))
def test_refused_before_authentication_writes_nothing(ctx: Ctx, runtime: Services,
                                                      case: str) -> None:
    name, status, build = UNAUTHENTICATED[case]
    before = dump(runtime)
    body, nonce, content_type = build(ctx)
    reply = ctx.device.send(ACTIVATION, body, nonce=nonce, content_type=content_type)
    reply.problem(name, status)
    assert dump(runtime) == before
    assert device_row(runtime, ctx.device.device_id).activated_at is None
    # the problem's Replay-Nonce is good for the corrected request
    assert ctx.device.activate().record()["status"] == "activated"


# Refused after the signature verified: the nonce is used up (so the request can never be
# replayed), and nothing else is written.
def _url(url: str) -> Callable[[Ctx], Body]:
    return lambda ctx: (*ctx.device.sign(ACTIVATION, {}, url=url), JOSE)


AUTHENTICATED: dict[str, tuple[str, int, Callable[[Ctx], Body]]] = {
    "url-of-another-endpoint": ("url-mismatch", 400, _url(CHECKIN)),
    "absolute-url": ("url-mismatch", 400, _url(f"http://testserver{ACTIVATION}")),
    "url-with-query": ("url-mismatch", 400, _url(f"{ACTIVATION}?x=1")),
    "payload-an-array": ("malformed", 400, lambda ctx: _signed(ctx, payload=[1, 2])),
    "payload-a-string": ("malformed", 400, lambda ctx: _signed(ctx, payload="activate")),
    "payload-not-json": ("malformed", 400, lambda ctx: _signed(ctx, payload=b"{not json")),
    "signals-not-an-object": ("malformed", 400,
                              lambda ctx: _signed(ctx, payload={"signals": ["DE"]})),
    "account-token-not-a-string": (
        "malformed", 400, lambda ctx: _signed(ctx, payload={"account_token": 42})),
}


@pytest.mark.parametrize("case", list(AUTHENTICATED))
def test_refused_after_authentication_burns_the_nonce_only(ctx: Ctx, runtime: Services,
                                                           case: str) -> None:
    name, status, build = AUTHENTICATED[case]
    before = dump(runtime, exclude=["used_nonces"])
    body, nonce, content_type = build(ctx)
    reply = ctx.device.send(ACTIVATION, body, nonce=nonce, content_type=content_type)
    reply.problem(name, status)
    assert dump(runtime, exclude=["used_nonces"]) == before
    assert [r.nonce for r in rows(runtime, t.used_nonces)] == [nonce]
    assert device_row(runtime, ctx.device.device_id).activated_at is None
    ctx.device.replay(reply).problem("bad-nonce", 400)
    assert ctx.device.activate().record()["status"] == "activated"


def test_wrong_content_type_leaves_the_nonce_usable(ctx: Ctx) -> None:
    jws, nonce = ctx.device.sign(ACTIVATION, {"signals": {}})
    ctx.device.send(ACTIVATION, jws, nonce=nonce, content_type="text/plain").problem(
        "malformed", 400)
    assert ctx.device.send(ACTIVATION, jws, nonce=nonce).record()["nonce"] == nonce


def test_a_nonce_is_single_use(ctx: Ctx, runtime: Services) -> None:
    first = ctx.device.activate()
    first.record()
    events = audit(runtime)
    ctx.device.replay(first).problem("bad-nonce", 400)
    assert audit(runtime) == events  # the replay did nothing
    # nonces are not per device: another device cannot use it either
    ctx.p256.post(ACTIVATION, {}, nonce=first.nonce).problem("bad-nonce", 400)
    assert device_row(runtime, ctx.p256.device_id).activated_at is None


def test_a_nonce_is_good_until_its_ttl(ctx: Ctx) -> None:
    nonce = ctx.device.fresh_nonce()
    ctx.clock.advance(ctx.runtime.settings.nonce_ttl_seconds - 1)
    assert ctx.runtime.settings.nonce_ttl_seconds - 1 >= 300  # PROTOCOL: at least 5 minutes
    assert ctx.device.post(ACTIVATION, {}, nonce=nonce).record()["status"] == "activated"


def test_a_refused_bind_burns_its_nonce(ctx: Ctx, accounts: Accounts,
                                        runtime: Services) -> None:
    owner = accounts.new()
    refused = ctx.device.bind(owner.token)
    refused.problem("not-activated", 409)
    ctx.device.activate().record()
    # the same signed bind, replayed now that it would succeed, is refused
    ctx.device.replay(refused).problem("bad-nonce", 400)
    assert claims(runtime, ctx.device.device_id) == []


def test_a_refused_unbind_burns_its_nonce(ctx: Ctx, accounts: Accounts,
                                          runtime: Services) -> None:
    owner = accounts.new()
    ctx.device.activate().record()
    ctx.device.bind(owner.token).record()
    ctx.clock.advance(301)
    refused = ctx.device.unbind(owner.token)
    refused.problem("reauthentication-required", 401)
    ctx.device.replay(refused).problem("bad-nonce", 400)
    assert len(claims(runtime, ctx.device.device_id, active_only=True)) == 1


# ------------------------------------------------------------------------------ body size


def _padded(ctx: Ctx, size: int) -> tuple[bytes, str]:
    jws, nonce = ctx.device.sign(ACTIVATION, {"signals": {}})
    body = json.dumps(jws).encode()
    return body + b" " * (size - len(body)), nonce  # JSON allows trailing whitespace


def test_a_body_of_exactly_64_kib_is_accepted(ctx: Ctx) -> None:
    body, nonce = _padded(ctx, 64 * 1024)
    assert len(body) == ctx.runtime.settings.max_body_bytes
    assert ctx.device.send(ACTIVATION, body, nonce=nonce).record()["status"] == "activated"


def test_a_body_over_64_kib_is_too_large(ctx: Ctx, runtime: Services) -> None:
    before = dump(runtime)
    body, nonce = _padded(ctx, 64 * 1024 + 1)
    ctx.device.send(ACTIVATION, body, nonce=nonce).problem("too-large", 413)
    assert dump(runtime) == before
    assert ctx.device.activate().record()["status"] == "activated"


def test_a_streamed_body_without_length_over_64_kib_is_too_large(ctx: Ctx,
                                                                 runtime: Services) -> None:
    before = dump(runtime)
    body, _ = _padded(ctx, 64 * 1024 + 1)
    chunks = [body[i:i + 8192] for i in range(0, len(body), 8192)]
    response = ctx.device.client.post(ACTIVATION, content=iter(chunks),
                                      headers={"Content-Type": JOSE})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert json.loads(response.text)["type"] == "urn:tenure:problem:too-large"
    assert response.headers.get("replay-nonce")
    assert dump(runtime) == before


# ------------------------------------------------------------------------------ odd kids


def test_a_very_long_kid_is_an_unknown_device(ctx: Ctx, runtime: Services) -> None:
    before = dump(runtime)
    body, nonce, _ = _signed(ctx, kid="D" * 5000)
    ctx.device.send(ACTIVATION, body, nonce=nonce).problem("unknown-device", 401)
    assert dump(runtime) == before


@pytest.mark.parametrize("kid", ["dev\x00ice", "dev\ud800ice"], ids=["nul", "lone-surrogate"])
def test_a_kid_no_device_can_have_is_an_unknown_device_not_a_crash(
        ctx: Ctx, request: pytest.FixtureRequest, backend: str, kid: str) -> None:
    body, nonce, _ = _signed(ctx, kid=kid)
    ctx.device.send(ACTIVATION, body, nonce=nonce).problem("unknown-device", 401)


def test_every_device_endpoint_answers_problems_with_a_nonce(ctx: Ctx) -> None:
    for path in (ACTIVATION, BIND, UNBIND, CHECKIN):
        ctx.device.send(path, b"{}").problem("malformed", 400)
    assert count(ctx.runtime, t.used_nonces) == 0


# ------------------------------------------------------------------------------ failures


@pytest.fixture
def nonce_table_gone(runtime: Services) -> Iterator[None]:
    """A real store failure: the table of used nonces is renamed away for the test."""
    with runtime.uow() as tx:
        tx.conn.execute(text("ALTER TABLE used_nonces RENAME TO used_nonces_away"))
    try:
        yield
    finally:
        with runtime.uow() as tx:
            tx.conn.execute(text("ALTER TABLE used_nonces_away RENAME TO used_nonces"))


def test_a_server_failure_is_a_500_problem_that_still_carries_a_fresh_nonce(
        ctx: Ctx, nonce_table_gone: None) -> None:
    """PROTOCOL.md: every response of a device endpoint, success or problem, carries a
    fresh Replay-Nonce — the one of a crash too, so that the device can retry at once."""
    reply = ctx.device.activate()
    assert reply.status_code == 500
    body = reply.problem("internal", 500)
    assert "nothing was changed" in body["detail"]
    assert no_store(reply.response)
