"""A synthetic, deterministic fleet: every device's key and row re-derivable from its index.

Device `i` has id `BN` + 9 digits, a private key derived from sha256(seed ‖ i) (Ed25519,
or P-256 for one device in ten), one or two Luhn-valid IMEIs made from `i`, and a model,
SKU and sales market picked from `i`. The load generator re-derives any device's key
from (seed, i), so a fleet of millions is never stored anywhere but in the server.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tenure.agent.device import luhn_digit

DEFAULT_SEED = b"tenure-bench-v1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_EVERY = 10  # one device in ten has a P-256 key (ES256), the rest Ed25519
DUAL_SIM_EVERY = 5  # one device in five has two IMEIs

# (model, SKUs); each device's market is one of MARKETS (examples/policy.toml knows "cn").
PRODUCTS = [
    ("Tenure Phone 1", ["TP1-128-BLK", "TP1-256-BLK", "TP1-128-WHT"]),
    ("Tenure Phone 2", ["TP2-256-BLU", "TP2-512-BLU"]),
    ("Tenure Tab 1", ["TT1-64-WIFI", "TT1-128-LTE"]),
    ("Tenure Scooter S", ["TSS-EU", "TSS-US"]),
]
MARKETS = ["global", "global", "global", "eu", "eu", "eu", "eu", "us", "us", "cn"]
FIELDS = ("device_id", "imei", "model", "sku", "market", "public_key")

# Territory signals each device reports (PROTOCOL.md): SIM MCC and a GNSS fix that agree,
# so the territory policy sees corroborated evidence. China-market devices are at home in
# China (the example policy allows them only there); everyone else is in Germany.
SIGNALS_HOME: dict[str, object] = {"sim_mcc": ["262"],
                                   "gnss": {"country": "DE", "subdivision": "DE-BE"}}
SIGNALS_CN: dict[str, object] = {"sim_mcc": ["460"], "gnss": {"country": "CN"}}


def device_id(index: int) -> str:
    return f"BN{index:09d}"


def device_index(device: str) -> int:
    return int(device[2:])


def _digest(seed: bytes, index: int, label: bytes = b"") -> bytes:
    return hashlib.sha256(seed + label + index.to_bytes(8, "big")).digest()


def is_p256(index: int) -> bool:
    return index % P256_EVERY == 7


def private_key(seed: bytes, index: int) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    """The device's private key, re-derived (tens of µs) instead of stored."""
    if is_p256(index):
        scalar = int.from_bytes(_digest(seed, index, b"p256"), "big") % (P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.from_private_bytes(_digest(seed, index))


def imeis(index: int) -> list[str]:
    """Distinct per device and Luhn-valid: TAC-like prefix, then the index."""
    first = f"35{index:012d}"
    found = [first + luhn_digit(first)]
    if index % DUAL_SIM_EVERY == 0:
        second = f"86{index:012d}"
        found.append(second + luhn_digit(second))
    return found


def product(index: int) -> tuple[str, str, str]:
    """(model, sku, market), spread deterministically over the fleet."""
    h = int.from_bytes(hashlib.blake2b(index.to_bytes(8, "big"), digest_size=8).digest(), "big")
    model, skus = PRODUCTS[h % len(PRODUCTS)]
    return model, skus[(h >> 8) % len(skus)], MARKETS[(h >> 16) % len(MARKETS)]


def signals(index: int) -> dict[str, object]:
    return SIGNALS_CN if product(index)[2] == "cn" else SIGNALS_HOME


def public_key_b64(seed: bytes, index: int) -> str:
    der = private_key(seed, index).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def row(seed: bytes, index: int, key: str | None = None) -> str:
    model, sku, market = product(index)
    return (f"{device_id(index)},{';'.join(imeis(index))},{model},{sku},{market},"
            f"{key or public_key_b64(seed, index)}\n")


def _write_part(args: tuple[bytes, int, int, str, bool]) -> str:
    seed, start, stop, path, one_key = args
    key = public_key_b64(seed, 0) if one_key else None
    with open(path, "w", encoding="utf-8", newline="") as out:
        lines: list[str] = []
        for index in range(start, stop):
            lines.append(row(seed, index, key))
            if len(lines) >= 5_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return path


@dataclass(frozen=True)
class CsvFile:
    path: Path
    start: int
    stop: int
    seconds: float

    @property
    def rows(self) -> int:
        return self.stop - self.start


def write_csv(path: Path, seed: bytes, start: int, stop: int, processes: int,
              one_key: bool = False) -> CsvFile:
    """Write devices [start, stop) as a provisioning CSV, the rows made in `processes`
    (`one_key`: device 0's public key on every row, for runs that never sign — a
    tenth of the time for a large fleet)."""
    import time

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = max(1, processes * 4)
    step = max(1, -(-(stop - start) // parts))
    jobs = [(seed, s, min(stop, s + step), f"{path}.part{n}", one_key)
            for n, s in enumerate(range(start, stop, step))]
    if processes <= 1:
        written = [_write_part(job) for job in jobs]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes) as pool:
            written = pool.map(_write_part, jobs, chunksize=1)
    with path.open("wb") as out:
        out.write((",".join(FIELDS) + "\n").encode())
        for part in written:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.unlink(part)
    return CsvFile(path, start, stop, time.perf_counter() - started)
