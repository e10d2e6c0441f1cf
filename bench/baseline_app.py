"""The raw-ASGI baseline: the least a check-in can cost in CPython on this machine.

A bare ASGI callable, no framework, no Tenure code, that does what a check-in must and
nothing else, in three modes chosen by BASELINE_MODE:

- `http`: read the body, parse the flattened JWS (JSON, base64url, the payload's JSON),
  answer a JSON record. What the ASGI server and JSON cost.
- `crypto`: as `http`, plus the Ed25519 verify of the request and the ES256 signature
  of the record (the server's record key is P-256, decision 0010): the crypto floor of
  an Ed25519 device on top of the server's fixed cost.
- `sqlite`: as `crypto`, plus one point read of the device (SQLite, 10 k rows) and the
  nonce inserted and committed with `synchronous=FULL` (one fsync a request, no group
  commit), inline on the event loop.
- `group`: as `sqlite`, but the nonces of the requests that reach the loop in the same
  turn share one COMMIT, run on the next turn, and no answer is sent before it: the
  group commit of Tenure's device lane (decision 0018) at its barest.
- `activation`: as `group`, plus what an activation must write besides the nonce, in the
  same shared transaction: the device's activation time, its territory memory (an
  upsert) and one audit event chained to the stream's last by SHA-256 (a point read and
  an insert).

bench/baseline.py serves it with uvicorn (as `tenure serve` does) and with granian and
drives it with the load generator's HTTP client; the report sets Tenure's check-in cost
beside it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import sqlite3
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

MODE = os.environ.get("BASELINE_MODE", "crypto")
DEVICE_KEY = Ed25519PublicKey.from_public_bytes(
    bytes.fromhex(os.environ.get("BASELINE_DEVICE_KEY", "00" * 32)))
RECORD_KEY = ec.generate_private_key(ec.SECP256R1())
SHA256 = ec.ECDSA(hashes.SHA256())
HEADERS = [(b"content-type", b"application/json")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


PROTECTED = _b64(json.dumps({"alg": "ES256", "typ": "record"}).encode())


def _es256(data: bytes) -> bytes:
    r, s = decode_dss_signature(RECORD_KEY.sign(data, SHA256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")

_db: sqlite3.Connection | None = None
if MODE in ("sqlite", "group", "activation"):
    _db = sqlite3.connect(os.environ["BASELINE_DB"], isolation_level=None)
    _db.execute("PRAGMA journal_mode=WAL")
    _db.execute("PRAGMA synchronous=FULL")
_pending: list[tuple[str, str, asyncio.Future[None]]] = []


def _commit_pending() -> None:
    """One transaction for every request queued since the last turn of the loop."""
    assert _db is not None
    batch = _pending[:]
    _pending.clear()
    _db.execute("BEGIN IMMEDIATE")
    for nonce, device_id, _ in batch:
        _db.execute("INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?)", (nonce, 0))
        if MODE == "activation":
            _activation_writes(device_id)
    _db.execute("COMMIT")
    for _, _, done in batch:
        done.set_result(None)


def _activation_writes(device_id: str) -> None:
    assert _db is not None
    _db.execute("UPDATE devices SET activated_at = 1 WHERE device_id = ?", (device_id,))
    _db.execute("INSERT INTO device_territory (device_id, territory, since) VALUES (?, 'DE', 1)"
                " ON CONFLICT (device_id) DO UPDATE SET territory = excluded.territory",
                (device_id,))
    stream = f"device:{device_id}"
    last = _db.execute("SELECT seq, hash FROM audit WHERE stream = ? ORDER BY seq DESC "
                       "LIMIT 1", (stream,)).fetchone()
    seq, previous = (last[0] + 1, last[1]) if last else (1, "")
    body = json.dumps({"action": "device.activated", "actor": stream, "at": 1})
    digest = hashlib.sha256(f"{previous}|{seq}|{body}".encode()).hexdigest()
    _db.execute("INSERT INTO audit (stream, seq, hash, body) VALUES (?, ?, ?, ?)",
                (stream, seq, digest, body))


async def _durable(nonce: str, device_id: str) -> None:
    """The request's writes, committed before the answer: alone (`sqlite`) or with the
    rest of its turn of the loop (`group`, `activation`)."""
    assert _db is not None
    if MODE == "sqlite":
        _db.execute("BEGIN IMMEDIATE")
        _db.execute("INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?)", (nonce, 0))
        _db.execute("COMMIT")
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    _pending.append((nonce, device_id, done))
    if len(_pending) == 1:
        loop.call_soon(_commit_pending)
    await done


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    jws = json.loads(body)
    payload = json.loads(_unb64(jws["payload"]))
    if MODE != "http":
        DEVICE_KEY.verify(_unb64(jws["signature"]),
                          f"{jws['protected']}.{jws['payload']}".encode("ascii"))
    state = "active"
    if _db is not None:
        row = _db.execute("SELECT state FROM devices WHERE device_id = ?",
                          (payload["device_id"],)).fetchone()
        state = row[0] if row else "unknown"
        await _durable(secrets.token_hex(16), payload["device_id"])
    claims = _b64(json.dumps({"sub": payload["device_id"], "state": state,
                              "nonce": payload.get("nonce"), "locks": []}).encode())
    signing_input = f"{PROTECTED}.{claims}"
    signature = _es256(signing_input.encode("ascii")) if MODE != "http" else b""
    out = json.dumps({"record": f"{signing_input}.{_b64(signature)}"}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [*HEADERS, (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})
