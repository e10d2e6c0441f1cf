"""The JWS layer and device keys: the security boundary of the device protocol.

Real keys from `cryptography` throughout; a device maker's firmware will sign with
its own JOSE code, so the wire format is checked against RFC 7515 by hand too.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tenure.crypto.b64 import b64u_decode, b64u_encode
from tenure.crypto.jws import (
    JWSError,
    parse_compact,
    parse_flattened,
    sign_compact,
    sign_flattened,
)
from tenure.crypto.keys import KeyError_, KeyType, SigningKey, load_public_key

HEADER = {"kid": "SN-0001", "nonce": "bm9uY2U", "url": "/v1/device/activation"}
PAYLOAD = {"signals": {"sim_mcc": ["262"]}}


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return SigningKey.generate("Ed25519")


@pytest.fixture(scope="module")
def p256_key() -> SigningKey:
    return SigningKey.generate("P-256")


def encode_json(value: Any) -> str:
    return b64u_encode(json.dumps(value).encode())


def flattened_bytes(jws: dict[str, str]) -> bytes:
    """What a device actually sends: the JSON body."""
    return json.dumps(jws).encode()


# -- sign and verify -----------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_ed25519_flattened_round_trip(ed_key: SigningKey, alg: str) -> None:
    """Both the RFC 9864 name and the older RFC 8037 name verify for an Ed25519 key."""
    body = flattened_bytes(sign_flattened(HEADER, PAYLOAD, ed_key, alg=alg))
    parsed = parse_flattened(body)
    assert parsed.alg == alg
    assert parsed.header["kid"] == "SN-0001"
    assert parsed.payload() == PAYLOAD
    assert parsed.verify_with(ed_key.public())


def test_es256_flattened_round_trip_with_raw_signature(p256_key: SigningKey) -> None:
    """ES256 signatures are raw R||S (64 bytes), not DER, as RFC 7518 §3.4 requires."""
    jws = sign_flattened(HEADER, PAYLOAD, p256_key)
    parsed = parse_flattened(flattened_bytes(jws))
    assert parsed.alg == "ES256"
    assert len(parsed.signature) == 64
    assert parsed.verify_with(p256_key.public())


def test_signature_covers_protected_dot_payload(ed_key: SigningKey) -> None:
    """Interoperability: the signature is over ASCII `protected.payload`, checkable by hand."""
    jws = sign_flattened(HEADER, PAYLOAD, ed_key)
    raw_public = ed_key.public().key
    assert isinstance(raw_public, ed25519.Ed25519PublicKey)
    raw_public.verify(b64u_decode(jws["signature"]),
                      f"{jws['protected']}.{jws['payload']}".encode("ascii"))
    assert json.loads(b64u_decode(jws["protected"]))["alg"] == "Ed25519"


def test_es256_signature_made_by_other_software_verifies(p256_key: SigningKey) -> None:
    """A firmware signing with plain ECDSA and converting DER to R||S is accepted."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    protected, payload = encode_json({**HEADER, "alg": "ES256"}), encode_json(PAYLOAD)
    assert isinstance(p256_key.key, ec.EllipticCurvePrivateKey)
    der = p256_key.key.sign(f"{protected}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = b64u_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    parsed = parse_flattened({"protected": protected, "payload": payload,
                              "signature": signature})
    assert parsed.verify_with(p256_key.public())


def test_signature_by_another_key_fails(ed_key: SigningKey) -> None:
    """A device cannot sign as another device."""
    parsed = parse_flattened(sign_flattened(HEADER, PAYLOAD, SigningKey.generate("Ed25519")))
    assert not parsed.verify_with(ed_key.public())


def test_es256_header_on_ed25519_key_fails(ed_key: SigningKey) -> None:
    """`alg` must match the registered key type, even when the signature bytes are valid."""
    parsed = parse_flattened(sign_flattened(HEADER, PAYLOAD, ed_key, alg="ES256"))
    assert ed_key.public().verify(parsed.signature, parsed.signing_input)  # bytes are fine...
    assert not parsed.verify_with(ed_key.public())  # ...but the alg is not this key's


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_ed25519_header_on_p256_key_fails(p256_key: SigningKey, alg: str) -> None:
    parsed = parse_flattened(sign_flattened(HEADER, PAYLOAD, p256_key, alg=alg))
    assert p256_key.public().verify(parsed.signature, parsed.signing_input)
    assert not parsed.verify_with(p256_key.public())


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384", "ed25519", "", None, 1])
def test_other_algs_never_verify(key_type: KeyType, alg: Any) -> None:
    """`none`, HMAC and anything off the allow-list are refused, with a valid signature too."""
    key = SigningKey.generate(key_type)
    protected = encode_json({**HEADER, "alg": alg})
    payload = encode_json(PAYLOAD)
    signature = key.sign(f"{protected}.{payload}".encode())
    for sig in (signature, b""):
        parsed = parse_flattened({"protected": protected, "payload": payload,
                                  "signature": b64u_encode(sig)})
        assert not parsed.verify_with(key.public())


def test_hs256_with_public_key_as_secret_fails(ed_key: SigningKey) -> None:
    """The classic alg-confusion attack: an HMAC keyed with the (public) device key."""
    import hashlib
    import hmac

    public = ed_key.public().spki_der()
    protected, payload = encode_json({**HEADER, "alg": "HS256"}), encode_json(PAYLOAD)
    mac = hmac.new(public, f"{protected}.{payload}".encode(), hashlib.sha256).digest()
    parsed = parse_flattened({"protected": protected, "payload": payload,
                              "signature": b64u_encode(mac)})
    assert not parsed.verify_with(ed_key.public())


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
def test_tampered_payload_fails(key_type: KeyType) -> None:
    """Changing what the device asked for (here: its SIM country) breaks the signature."""
    key = SigningKey.generate(key_type)
    jws = sign_flattened(HEADER, PAYLOAD, key)
    jws["payload"] = encode_json({"signals": {"sim_mcc": ["250"]}})
    assert not parse_flattened(jws).verify_with(key.public())


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
def test_tampered_header_fails(key_type: KeyType) -> None:
    """The nonce and url are protected: replaying to another endpoint fails."""
    key = SigningKey.generate(key_type)
    jws = sign_flattened(HEADER, PAYLOAD, key)
    jws["protected"] = encode_json({**HEADER, "alg": key.alg, "url": "/v1/device/unbind"})
    assert not parse_flattened(jws).verify_with(key.public())


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 64, b"\xff" * 64,
                                       b"\x00" * 65, b"\x01" * 72])
@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
def test_garbage_signature_is_false_not_an_exception(key_type: KeyType, signature: bytes) -> None:
    """A hostile signature must give `401 bad-signature`, never a server error."""
    key = SigningKey.generate(key_type)
    protected, payload = encode_json({**HEADER, "alg": key.alg}), encode_json(PAYLOAD)
    parsed = parse_flattened({"protected": protected, "payload": payload,
                              "signature": b64u_encode(signature)})
    assert parsed.verify_with(key.public()) is False


def test_es256_signature_must_be_exactly_64_bytes(p256_key: SigningKey) -> None:
    """R||S padded with a zero byte is the same numbers but not the RFC 7518 encoding."""
    jws = sign_flattened(HEADER, PAYLOAD, p256_key)
    raw = b64u_decode(jws["signature"])
    padded = raw[:32] + b"\x00" + raw[32:]
    parsed = parse_flattened({**jws, "signature": b64u_encode(padded)})
    assert not parsed.verify_with(p256_key.public())


# -- malformed input -----------------------------------------------------------------------

def good_parts(key: SigningKey) -> dict[str, str]:
    return sign_flattened(HEADER, PAYLOAD, key)


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b"[1, 2]", b'"jws"', b"null"])
def test_body_that_is_not_a_json_object_raises(body: bytes) -> None:
    with pytest.raises(JWSError):
        parse_flattened(body)


@pytest.mark.parametrize("missing", ["protected", "payload", "signature"])
def test_missing_member_raises(ed_key: SigningKey, missing: str) -> None:
    jws = good_parts(ed_key)
    del jws[missing]
    with pytest.raises(JWSError):
        parse_flattened(flattened_bytes(jws))


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
@pytest.mark.parametrize("value", [None, 1, ["x"], {"a": "b"}])
def test_non_string_member_raises(ed_key: SigningKey, member: str, value: Any) -> None:
    body: dict[str, Any] = {**good_parts(ed_key), member: value}
    with pytest.raises(JWSError):
        parse_flattened(body)


def test_unprotected_header_refused(ed_key: SigningKey) -> None:
    """An unprotected `header` could smuggle an alg or kid past the signature."""
    body: dict[str, Any] = {**good_parts(ed_key), "header": {"alg": "none"}}
    with pytest.raises(JWSError):
        parse_flattened(body)


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
@pytest.mark.parametrize("mangle", [
    lambda s: s + "=",        # padding (RFC 7515 §2 forbids it)
    lambda s: s + "==",
    lambda s: s.replace(s[1], "+", 1),  # standard alphabet
    lambda s: s.replace(s[1], "/", 1),
    lambda s: s + "A" * ((1 - len(s)) % 4),  # impossible length (4n+1)
    lambda s: s[:2] + " " + s[2:],
], ids=["pad1", "pad2", "plus", "slash", "length", "space"])
def test_bad_base64url_raises(ed_key: SigningKey, member: str, mangle: Any) -> None:
    jws = good_parts(ed_key)
    jws[member] = mangle(jws[member])
    with pytest.raises(JWSError):
        parse_flattened(jws)


def test_header_that_is_not_a_json_object_raises(ed_key: SigningKey) -> None:
    jws = {**good_parts(ed_key), "protected": encode_json(["alg", "Ed25519"])}
    with pytest.raises(JWSError):
        parse_flattened(jws)


def test_header_that_is_not_json_raises(ed_key: SigningKey) -> None:
    jws = {**good_parts(ed_key), "protected": b64u_encode(b"{alg: Ed25519")}
    with pytest.raises(JWSError):
        parse_flattened(jws)


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b"\xff"])
def test_payload_that_is_not_a_json_object_raises_when_read(
    ed_key: SigningKey, payload: bytes,
) -> None:
    jws = {**good_parts(ed_key), "payload": b64u_encode(payload)}
    with pytest.raises(JWSError):
        parse_flattened(jws).payload()


def test_jws_error_is_a_value_error() -> None:
    """Callers catching ValueError (400 malformed) also catch JWSError."""
    assert issubclass(JWSError, ValueError)


# -- compact serialization -----------------------------------------------------------------

@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
def test_compact_round_trip(key_type: KeyType) -> None:
    """Records and unlock tokens travel as compact JWS; the header gets the key's alg."""
    key = SigningKey.generate(key_type)
    payload = {"iss": "tenure", "sub": "SN-0001", "status": "locked", "text": "Gerät"}
    token = sign_compact({"kid": "srv-1", "typ": "tenure-record+jwt"}, payload, key)
    assert token.count(".") == 2
    parsed = parse_compact(token)
    assert parsed.header == {"kid": "srv-1", "typ": "tenure-record+jwt", "alg": key.alg}
    assert parsed.payload() == payload
    assert parsed.verify_with(key.public())
    assert not parsed.verify_with(SigningKey.generate(key_type).public())


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "....", None, b"a.b.c"])
def test_compact_of_wrong_shape_raises(token: Any) -> None:
    with pytest.raises(JWSError):
        parse_compact(token)


def test_compact_with_tampered_payload_fails(ed_key: SigningKey) -> None:
    """A device must reject a record whose status was flipped in transit."""
    header, _, signature = sign_compact({}, {"status": "locked"}, ed_key).split(".")
    forged = f"{header}.{encode_json({'status': 'activated'})}.{signature}"
    assert not parse_compact(forged).verify_with(ed_key.public())


# -- device public keys --------------------------------------------------------------------

AnyPrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def spki_der(private: AnyPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_pem(private: AnyPrivateKey) -> str:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
@pytest.mark.parametrize("form", ["pem", "der-b64", "der-b64-wrapped"])
def test_load_public_key_accepts_pem_and_base64_der(key_type: KeyType, form: str) -> None:
    """A registered key, in either form factories export, verifies that device's signatures."""
    key = SigningKey.generate(key_type)
    if form == "pem":
        text = spki_pem(key.key)
    else:
        text = base64.b64encode(spki_der(key.key)).decode()
        if form == "der-b64-wrapped":
            text = "\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + "\n"
    loaded = load_public_key(text)
    assert loaded.key_type == key_type
    assert loaded.spki_der() == spki_der(key.key)
    assert parse_flattened(sign_flattened(HEADER, PAYLOAD, key)).verify_with(loaded)


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("form", ["pem", "der-b64"])
def test_load_public_key_refuses_rsa(rsa_private: rsa.RSAPrivateKey, form: str) -> None:
    text = spki_pem(rsa_private) if form == "pem" else base64.b64encode(
        spki_der(rsa_private)).decode()
    with pytest.raises(KeyError_, match="RSA"):
        load_public_key(text)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP256K1()], ids=["P-384", "secp256k1"])
def test_load_public_key_refuses_other_curves(curve: ec.EllipticCurve) -> None:
    """Only P-256 among EC curves: P-384 or the bitcoin curve are not protocol keys."""
    private = ec.generate_private_key(curve)
    with pytest.raises(KeyError_, match="P-256"):
        load_public_key(spki_pem(private))
    with pytest.raises(KeyError_):
        load_public_key(base64.b64encode(spki_der(private)).decode())


@pytest.mark.parametrize("text", [
    "", "garbage", "not base64 !!", "QUJD",  # valid base64 of "ABC", not DER
    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    "Gerät", "-----BEGIN Gerät",
])
def test_load_public_key_refuses_garbage(text: str) -> None:
    """A bad cell in a provisioning file is a row error, not a crash of the import."""
    with pytest.raises(KeyError_):
        load_public_key(text)


def test_load_public_key_refuses_a_private_key() -> None:
    """A factory exporting the private key by mistake is told, not silently accepted."""
    pem = SigningKey.generate("Ed25519").to_pem().decode()
    with pytest.raises(KeyError_):
        load_public_key(pem)


# -- hostile JSON, crit (RFC 7515 §4.1.11) and typ (§4.1.9) -------------------------------


def _compact(header: dict[str, Any] | str, payload: bytes, key: SigningKey) -> str:
    raw = header if isinstance(header, str) else json.dumps(header)
    protected = b64u_encode(raw.encode())
    encoded = b64u_encode(payload)
    signature = key.sign(f"{protected}.{encoded}".encode("ascii"))
    return f"{protected}.{encoded}.{b64u_encode(signature)}"


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "1" * 4300, "NaN", "1e999"])
def test_hostile_json_in_header_or_payload_is_a_jws_error(ed_key: SigningKey,
                                                          value: str) -> None:
    header = '{"alg": "EdDSA", "x": ' + value + "}"
    with pytest.raises(JWSError):
        parse_compact(_compact(header, b"{}", ed_key))
    jws = parse_compact(_compact({"alg": "EdDSA"}, ('{"x": ' + value + "}").encode(), ed_key))
    with pytest.raises(JWSError):
        jws.payload()
    with pytest.raises(JWSError):
        parse_flattened(('{"protected": "e30", "payload": "e30", "signature": "", "x": '
                         + value + "}").encode())


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-tenure"]])
def test_crit_naming_an_unknown_extension_is_refused(ed_key: SigningKey,
                                                     crit: list[str]) -> None:
    header = {"alg": "EdDSA", "typ": "tenure-bl-token+jwt", "crit": crit,
              **{name: False for name in crit}}
    with pytest.raises(JWSError, match="crit"):
        parse_compact(_compact(header, b"{}", ed_key))


@pytest.mark.parametrize("crit", [[], "exp", [1], ["alg"], ["missing"]])
def test_malformed_crit_is_refused(ed_key: SigningKey, crit: Any) -> None:
    with pytest.raises(JWSError, match="crit"):
        parse_compact(_compact({"alg": "EdDSA", "crit": crit}, b"{}", ed_key))


@pytest.mark.parametrize("typ", ["tenure-bl-token+jwt", "application/tenure-bl-token+jwt",
                                 "Application/Tenure-BL-Token+JWT", "TENURE-BL-TOKEN+JWT"])
def test_typ_matches_with_or_without_application_prefix(ed_key: SigningKey, typ: str) -> None:
    jws = parse_compact(sign_compact({"typ": typ}, {}, ed_key))
    assert jws.has_type("tenure-bl-token+jwt")
    assert jws.has_type("application/tenure-bl-token+jwt")


@pytest.mark.parametrize("typ", [None, "", 7, "tenure-record+jwt", "text/tenure-bl-token+jwt",
                                 "application/tenure-bl-token+jwt; x=1", "JWT"])
def test_typ_of_another_type_does_not_match(ed_key: SigningKey, typ: Any) -> None:
    header = {} if typ is None else {"typ": typ}
    assert not parse_compact(sign_compact(header, {}, ed_key)).has_type("tenure-bl-token+jwt")


def test_the_agent_reads_typ_as_a_media_type_and_refuses_critical_extensions(
        ed_key: SigningKey) -> None:
    from tenure.agent.records import RecordRejected, verify_token

    pinned = {"k1": ed_key.public()}
    full = sign_compact({"kid": "k1", "typ": "application/tenure-record+jwt"}, {"a": 1}, ed_key)
    assert verify_token(full, "tenure-record+jwt", pinned) == {"a": 1}
    critical = sign_compact({"kid": "k1", "typ": "tenure-record+jwt", "crit": ["x"], "x": 1},
                            {"a": 1}, ed_key)
    with pytest.raises(RecordRejected, match="crit"):
        verify_token(critical, "tenure-record+jwt", pinned)
