"""The cryptographic floor: what one device request costs at the very least.

Every device request needs one verification of the device's signature and one
signature of the record that answers it; nothing else is unavoidable. Measured with
`cryptography` on this machine, now, on inputs the size of real requests and records.
"""

from __future__ import annotations

import json
import os
import timeit
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from . import fleet
from .protocol import b64u, signed_body


@dataclass(frozen=True)
class Floor:
    ed25519_verify_us: float
    es256_verify_us: float
    record_sign_us: float
    p256_share: float
    cores: int

    @property
    def verify_us(self) -> float:
        """A device-signature verify, weighted by the fleet's key mix."""
        return ((1 - self.p256_share) * self.ed25519_verify_us
                + self.p256_share * self.es256_verify_us)

    @property
    def request_us(self) -> float:
        """The floor of one request: one device verify + one record signature."""
        return self.verify_us + self.record_sign_us

    @property
    def throughput(self) -> float:
        """Requests/s the machine could answer doing nothing but the floor on every core."""
        return self.cores * 1e6 / self.request_us


def lowest(*floors: Floor) -> Floor:
    """Each operation's lowest figure of several measurements. The floor is a best case
    (timeit's minimum); on a shared machine one measurement can fall in a slow spell,
    and a floor measured high would make every target easier than it is."""
    return Floor(min(f.ed25519_verify_us for f in floors),
                 min(f.es256_verify_us for f in floors),
                 min(f.record_sign_us for f in floors), floors[0].p256_share,
                 floors[0].cores)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _best_us(stmt: object, number: int, repeat: int) -> float:
    """Per call, best of `repeat` runs of `number` calls (timeit's advice: the minimum is
    the machine's cost; higher figures are other processes getting in the way)."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e6  # type: ignore[arg-type]


def measure(number: int = 3000, repeat: int = 5) -> Floor:
    seed = b"floor"
    # a real check-in request's signing input and a real record's signing input
    ed_key = fleet.private_key(seed, 1)
    p_key = fleet.private_key(seed, 7)
    assert isinstance(ed_key, ed25519.Ed25519PrivateKey)
    assert isinstance(p_key, ec.EllipticCurvePrivateKey)
    body = signed_body(ed_key, fleet.device_id(1), "A" * 54, "/v1/device/checkin",
                       {"signals": fleet.SIGNALS_HOME, "acks": []})
    parsed = json.loads(body)
    request_input = f"{parsed['protected']}.{parsed['payload']}".encode()
    # The server signs records with its key ring's active key: ES256 for every ring
    # `tenure init` makes (decision 0010), as the bench's server's is. The signature is
    # turned from OpenSSL's DER into JWS's raw R||S, as the server does.
    record_input = (b64u(b'{"alg":"ES256","kid":"k1234567","typ":"tenure-record+jwt"}') + "."
                    + b64u(b"x" * 330)).encode()
    ed_pub = ed_key.public_key()
    ed_sig = ed_key.sign(request_input)
    p_pub = p_key.public_key()
    ecdsa = ec.ECDSA(hashes.SHA256())
    p_sig = p_key.sign(request_input, ecdsa)
    server_key = ec.generate_private_key(ec.SECP256R1())

    def record_sign() -> bytes:
        r, s = decode_dss_signature(server_key.sign(record_input, ecdsa))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return Floor(
        ed25519_verify_us=_best_us(lambda: ed_pub.verify(ed_sig, request_input), number, repeat),
        es256_verify_us=_best_us(lambda: p_pub.verify(p_sig, request_input, ecdsa),
                                 number, repeat),
        record_sign_us=_best_us(record_sign, number, repeat),
        p256_share=1 / fleet.P256_EVERY,
        cores=cores(),
    )
