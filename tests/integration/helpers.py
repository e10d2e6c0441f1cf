"""Helpers for the integration suite: the reference device agent on the in-process app,
owner accounts, and read-only probes of what the store holds.

Everything here drives the real app (`TestClient(create_app(runtime))`), the real
database and real keys; nothing is mocked.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Table, func, select
from starlette.testclient import TestClient

from tenure import protocol
from tenure.agent.device import DeviceAgent
from tenure.bootstrap import Services
from tenure.crypto.b64 import b64u_decode, b64u_encode
from tenure.crypto.jws import sign_flattened
from tenure.crypto.keys import KeyType, SigningKey, VerifyingKey
from tenure.domain.masking import mask_email
from tenure.services.provision import ImportReport
from tenure.store import tables as t

JOSE = protocol.JOSE_JSON
PROBLEM = protocol.PROBLEM_JSON
PROBLEM_PREFIX = protocol.PROBLEM_PREFIX
CSV_HEADER = ("device_id", "imei", "model", "sku", "market", "public_key")

ACTIVATION = protocol.ACTIVATION_PATH
BIND = protocol.BIND_PATH
UNBIND = protocol.UNBIND_PATH
CHECKIN = protocol.CHECKIN_PATH
NONCE = protocol.NONCE_PATH


def media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


def no_store(response: httpx.Response) -> bool:
    directives = response.headers.get("cache-control", "").lower().split(",")
    return "no-store" in [d.strip() for d in directives]


def assert_problem(response: httpx.Response, name: str, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem of exactly this type and status; return it."""
    assert response.status_code == status, (
        f"expected {status} {name}, got {response.status_code}: {response.text[:500]}")
    assert media_type(response) == PROBLEM, response.headers.get("content-type")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"{PROBLEM_PREFIX}{name}", body
    assert body["status"] == status, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def assert_nonce_format(nonce: str | None) -> str:
    """b64u (no padding) of at least 16 random bytes (PROTOCOL.md, Nonces)."""
    assert nonce, "no Replay-Nonce header"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", nonce), nonce
    assert len(b64u_decode(nonce)) >= 16, nonce
    return nonce


# --------------------------------------------------------------------------- devices


def raw_jws(header: dict[str, Any], payload: Any,
            key: SigningKey | None, signature: bytes | None = None) -> dict[str, str]:
    """A flattened JWS with exactly this protected header (no `alg` filled in for us).

    `payload` given as bytes is used verbatim (to send payloads that are not objects or
    not JSON at all); `signature` overrides the key's signature (e.g. empty for alg none).
    """
    protected = b64u_encode(json.dumps(header, separators=(",", ":")).encode())
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    encoded = b64u_encode(raw)
    if signature is None:
        assert key is not None
        signature = key.sign(f"{protected}.{encoded}".encode("ascii"))
    return {"protected": protected, "payload": encoded, "signature": b64u_encode(signature)}


@dataclass
class Reply:
    """One answer to a signed device request, with the nonce the request carried."""

    device: Device
    response: httpx.Response
    nonce: str | None
    body: bytes

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def record(self) -> dict[str, Any]:
        """Verify the answer the way the device must (pinned keys, sub, nonce, exp)."""
        r = self.response
        assert r.status_code == 200, f"{r.status_code}: {r.text[:500]}"
        assert media_type(r) == "application/json", r.headers.get("content-type")
        assert self.nonce is not None
        return self.device.agent.accept(r.json()["record"], self.nonce)

    def problem(self, name: str, status: int) -> dict[str, Any]:
        body = assert_problem(self.response, name, status)
        fresh = assert_nonce_format(self.response.headers.get("replay-nonce"))
        assert fresh != self.nonce
        return body


class Device:
    """A device of the integration suite: the reference agent (`DeviceAgent`), assembled
    on the in-process app's client (a Starlette TestClient is an httpx.Client) and the
    test clock, with a persistent block in memory.

    The agent signs, keeps and fetches nonces, and verifies and stores records; this
    wrapper answers with `Reply` (the raw response, for assertions on problems) where
    the agent would raise, and forges what a real device never sends (another kid, url,
    alg or key) for the negative tests.
    """

    def __init__(self, client: TestClient, runtime: Services, key_type: KeyType = "Ed25519",
                 device_id: str | None = None, imeis: int = 1, model: str = "Tenure Phone 1",
                 sku: str = "TP1-128-BLK", market: str = "global") -> None:
        self.client = client
        self.runtime = runtime
        self.agent = DeviceAgent.manufacture(
            client, device_id=device_id or f"IT{secrets.token_hex(6).upper()}",
            key_type=key_type, imeis=imeis, model=model, sku=sku, market=market,
            clock=runtime.clock)

    # -- what the agent holds --------------------------------------------------------------
    @property
    def device_id(self) -> str:
        return self.agent.device_id

    @property
    def key(self) -> SigningKey:
        return self.agent.key

    @property
    def imeis(self) -> list[str]:
        return self.agent.identity.imeis

    @property
    def pinned(self) -> dict[str, VerifyingKey]:
        return self.agent.pinned

    @pinned.setter
    def pinned(self, keys: dict[str, VerifyingKey]) -> None:
        self.agent.pinned = keys

    @property
    def next_nonce(self) -> str | None:
        return self.agent.next_nonce

    # -- factory ---------------------------------------------------------------------------
    def public_key_b64(self) -> str:
        return self.row()["public_key"]

    def row(self) -> dict[str, str]:
        return self.agent.provisioning_row()

    # -- protocol --------------------------------------------------------------------------
    def fresh_nonce(self) -> str:
        return assert_nonce_format(self.agent.nonce())

    def factory_reset(self) -> None:
        """User data is wiped; the persistent block stays; the kept nonce is lost."""
        self.agent.factory_reset()

    def sign(self, path: str, payload: dict[str, Any], *, nonce: str | None = None,
             url: str | None = None, kid: str | None = None, alg: str | None = None,
             key: SigningKey | None = None) -> tuple[dict[str, str], str]:
        """A flattened JWS of `payload` for `path`; returns it with the nonce it carries."""
        if url is None and kid is None and alg is None and key is None:
            return self.agent.sign(path, payload, nonce=nonce)
        nonce = nonce if nonce is not None else self.fresh_nonce()
        header = {"kid": kid if kid is not None else self.device_id, "nonce": nonce,
                  "url": url if url is not None else path}
        return sign_flattened(header, payload, key or self.key, alg=alg), nonce

    def send(self, path: str, body: bytes | str | dict[str, Any], *, nonce: str | None = None,
             content_type: str = JOSE) -> Reply:
        """POST a body as is; the agent keeps the answer's Replay-Nonce for the next one."""
        if isinstance(body, dict):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        return Reply(self, self.agent.send(path, data, content_type), nonce, data)

    def post(self, path: str, payload: Any, **sign: Any) -> Reply:
        jws, nonce = self.sign(path, payload, **sign)
        return self.send(path, jws, nonce=nonce)

    def replay(self, reply: Reply) -> Reply:
        """Send the very same signed body again (what an attacker on the wire would do)."""
        return self.send(reply.response.request.url.path, reply.body, nonce=reply.nonce)

    def activate(self, token: str | None = None, signals: dict[str, Any] | None = None
                 ) -> Reply:
        return self.post(ACTIVATION, self.agent.activation_payload(
            token, signals or {"sim_mcc": ["262"]}))  # type: ignore[arg-type]

    def bind(self, token: str) -> Reply:
        return self.post(BIND, self.agent.account_payload(token))

    def unbind(self, token: str) -> Reply:
        return self.post(UNBIND, self.agent.account_payload(token))

    def checkin(self, acks: list[str] | None = None) -> Reply:
        return self.post(CHECKIN, self.agent.checkin_payload(acks=acks or [],
                                                             report_bootloader=False))


def provisioning_csv(rows: Iterable[Any]) -> bytes:
    """CSV with the protocol header; a row may be a dict, a list of fields or a raw line."""
    out = io.StringIO()
    out.write(",".join(CSV_HEADER) + "\r\n")
    writer = csv.writer(out)
    for row in rows:
        if isinstance(row, str):
            out.write(row + "\r\n")
        elif isinstance(row, dict):
            writer.writerow([row[name] for name in CSV_HEADER])
        else:
            writer.writerow(list(row))
    return out.getvalue().encode()


def provisioning_jsonl(rows: Iterable[dict[str, Any] | str]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def import_file(runtime: Services, data: bytes, fmt: str = "csv",
                skip_invalid: bool = False) -> ImportReport:
    return runtime.importer.run(io.BytesIO(data), fmt, actor="test",
                                                    skip_invalid=skip_invalid)


def provision(runtime: Services, *devices: Device) -> ImportReport:
    report = import_file(runtime, provisioning_csv(d.row() for d in devices))
    assert report.committed and report.imported == len(devices), report.as_json()
    return report


# --------------------------------------------------------------------------- accounts


@dataclass
class Account:
    email: str
    password: str
    account_id: str
    token: str = ""  # the last session token obtained through Accounts.sign_in

    @property
    def hint(self) -> str:
        return mask_email(self.email)


@dataclass
class Accounts:
    """Register and sign in through the HTTP API (argon2 is slow: reuse accounts)."""

    client: TestClient
    created: list[Account] = field(default_factory=list)

    @staticmethod
    def new_email(prefix: str = "owner") -> str:
        return f"{prefix}-{secrets.token_hex(4)}@example.com"

    @staticmethod
    def new_password() -> str:
        return "Tn-" + secrets.token_urlsafe(15)

    def register(self, email: str | None = None, password: str | None = None) -> Account:
        email = email or self.new_email()
        password = password or self.new_password()
        response = self.client.post("/v1/accounts", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        account = Account(email.lower(), password, response.json()["account_id"])
        self.created.append(account)
        return account

    def sign_in(self, account: Account, password: str | None = None) -> str:
        response = self.client.post("/v1/sessions", json={
            "email": account.email, "password": password or account.password})
        assert response.status_code == 201, response.text
        account.token = response.json()["token"]
        return account.token

    def new(self, email: str | None = None) -> Account:
        account = self.register(email)
        self.sign_in(account)
        return account


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- races


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment on their own threads; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# --------------------------------------------------------------------------- store probes


def rows(runtime: Services, table: Table, *where: Any, order_by: Any = None) -> list[Any]:
    with runtime.uow(readonly=True) as tx:
        query = select(table).where(*where)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(tx.conn.execute(query))


def count(runtime: Services, table: Table, *where: Any) -> int:
    with runtime.uow(readonly=True) as tx:
        return int(tx.conn.execute(
            select(func.count()).select_from(table).where(*where)).scalar_one())


def device_row(runtime: Services, device_id: str) -> Any:
    found = rows(runtime, t.devices, t.devices.c.device_id == device_id)
    assert len(found) == 1, f"device {device_id} is not stored"
    return found[0]


def claims(runtime: Services, device_id: str, active_only: bool = False) -> list[Any]:
    where = [t.claims.c.device_id == device_id]
    if active_only:
        where.append(t.claims.c.released_at.is_(None))
    return rows(runtime, t.claims, *where, order_by=t.claims.c.created_at)


def audit(runtime: Services, stream: str | None = None) -> list[Any]:
    where = [] if stream is None else [t.audit_events.c.stream == stream]
    return rows(runtime, t.audit_events, *where, order_by=t.audit_events.c.seq)


def outbox(runtime: Services, to: str | None = None) -> list[Any]:
    where = [] if to is None else [t.outbox.c.to_addr == to]
    return rows(runtime, t.outbox, *where, order_by=t.outbox.c.created_at)


def message_ids(runtime: Services, to: str) -> set[str]:
    """The mail already queued for `to`: give it to `new_mail` after the step that mails."""
    return {m.message_id for m in outbox(runtime, to)}


def new_mail(runtime: Services, to: str, seen: set[str]) -> Any:
    """The one message queued for `to` since `seen` was taken. Messages queued in the same
    second of a test's fixed clock have no order, so "the last one" is not an answer."""
    fresh = [m for m in outbox(runtime, to) if m.message_id not in seen]
    assert len(fresh) == 1, [m.subject for m in fresh]
    return fresh[0]


def dump(runtime: Services, exclude: Iterable[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (small test databases): compare before/after a refusal."""
    skip = set(exclude)
    out = {}
    with runtime.uow(readonly=True) as tx:
        for table in t.metadata.sorted_tables:
            if table.name in skip:
                continue
            found = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                     for r in tx.conn.execute(select(table))]
            out[table.name] = sorted(found, key=repr)
    return out


RESET_TOKEN = re.compile(r"^ {4}(\S+) *$", re.MULTILINE)


def reset_tokens(runtime: Services, email: str) -> list[str]:
    """Every reset token mailed to `email`: the outbox is the only place a token exists.
    Queued reset requests are turned into mail first, as the server's background does."""
    runtime.password_reset.process_pending()
    found = []
    for mail in outbox(runtime, email):
        if mail.subject == "Reset your password":
            tokens = RESET_TOKEN.findall(mail.body)
            assert len(tokens) == 1, mail.body
            found.append(str(tokens[0]))
    return found


def new_reset_token(runtime: Services, email: str, known: Iterable[str] = ()) -> str:
    """The one reset token mailed to `email` that is not among `known`."""
    fresh = [tok for tok in reset_tokens(runtime, email) if tok not in set(known)]
    assert len(fresh) == 1, f"expected one new reset mail to {email}, found {len(fresh)}"
    return fresh[0]
