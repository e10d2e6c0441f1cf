"""The authorization matrix: every principal × every route × own/other device, on SQLite
and PostgreSQL, against docs/protocol.md Part 2 (and docs/security.md, "Who may do what").

It is driven by the route table: `ROUTES` names each route's audience, `MATRIX` says what
every principal gets from every audience, and `test_every_route_has_a_decision` fails for
a route the app serves (or the OpenAPI document lists) that has no entry — so a new route
cannot ship without an authorization decision.

What the cells mean:
- `public`: no credential needed, and none changes the answer (never 401/403, never 5xx);
- `401` / `403`: exactly that problem, and the database is unchanged;
- `self`: the principal acting on itself (its account, its fleet, the operator's tools):
  served or refused for a business reason, never 401/403;
- `own`: called with the principal's own resource, served or refused for a business
  reason (never 401/403/404); called with another principal's, the very problem a
  never-existing identifier gets (404, same type, title and detail but for the id), and
  the database unchanged;
- `signed` (devices): a device's own signed request is served; one signed with its key
  but naming another device is `401 bad-signature` and changes nothing;
- `unsigned`: a bearer or no credential on a device endpoint is refused (4xx), unchanged;
- `refused`: a device's signed body sent to an account route: refused (401, or the body
  is not what the route reads: 400/415/422 — account routes check the body's shape
  before the session), never 404, unchanged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tenure import protocol
from tenure.http.app import create_app
from tenure.http.openapi_paths import PATHS
from tenure.web.errors import WEB_PREFIXES

from .authz_world import CASES, CREDITORS, PNG, RETAILERS, World, build_world, strip_ids
from .helpers import JOSE, bearer

# Each principal, and what it is: an account, the operator's admin key, a live tenant's
# key of its kind, or nothing that authenticates (None).
KINDS: dict[str, str | None] = {
    "anonymous": None, "device": None, "owner-A": "account", "owner-B": "account",
    "admin-key": "admin", "org-O1": "organization", "org-O2": "organization",
    "disabled-tenant": None, "revoked-key": None, "garbage-bearer": None, "basic-auth": None,
}
PARTNER = {"owner-A": "owner-B", "owner-B": "owner-A", "org-O1": "org-O2", "org-O2": "org-O1"}
if CREDITORS:
    KINDS.update({"creditor-C1": "creditor", "creditor-C2": "creditor"})
    PARTNER.update({"creditor-C1": "creditor-C2", "creditor-C2": "creditor-C1"})
if RETAILERS:
    KINDS.update({"retailer-R1": "retailer", "retailer-R2": "retailer"})
    PARTNER.update({"retailer-R1": "retailer-R2", "retailer-R2": "retailer-R1"})
if CASES:
    KINDS["support-agent"] = "support"  # an account with the role, signed in with TOTP
PRINCIPALS = tuple(KINDS)
# Whose resource a principal that may not act on it is pointed at.
VICTIM = {"org": "org-O1", "creditor": "creditor-C1", "retailer": "retailer-R1"}
KEYS = ("admin", "organization", "creditor", "retailer")
UNCHANGED = (401, 403, 404)
# Refusals with those statuses that are about the business, not the caller's rights.
BUSINESS_REFUSALS = {protocol.PROBLEM_PREFIX + name for name in (
    "unlock-not-permitted", "credential-cooldown")}


def account_row(mine: str) -> dict[str, str | int]:
    """Account routes: a session token; an API key is no session (401, not 403). A
    device's signed body is not what these routes read: refused as such, or 401."""
    row: dict[str, str | int] = {p: 401 for p in PRINCIPALS}
    row.update({p: mine for p, kind in KINDS.items() if kind == "account"})
    if CASES:  # a support agent is an account too, with no business on others' devices
        row["support-agent"] = "self" if mine == "self" else 404
    row["device"] = "refused"
    return row


def support_row() -> dict[str, str | int]:
    """The support queue: a session of an agent (with TOTP); any other account 403."""
    row = account_row("self")
    row.update({p: 403 for p, kind in KINDS.items() if kind == "account"})
    return row


def key_row(role: str, mine: str) -> dict[str, str | int]:
    """Routes for API keys of one role (tenants; the operator's `admin`): 401 without a
    live key, 403 for a key of another role."""
    row: dict[str, str | int] = {p: 401 for p in PRINCIPALS}
    row.update({p: (mine if kind == role else 403) for p, kind in KINDS.items()
                if kind in KEYS})
    return row


MATRIX: dict[str, dict[str, str | int]] = {
    "public": {p: "public" for p in PRINCIPALS},
    "device": {**{p: "unsigned" for p in PRINCIPALS}, "device": "signed"},
    "account": account_row("self"),
    "account-device": account_row("own"),
    "org": key_row("organization", "self"),
    "org-device": key_row("organization", "own"),
    "operator": key_row("admin", "self"),
}
if CREDITORS:
    MATRIX.update({"creditor": key_row("creditor", "self"),
                   "creditor-device": key_row("creditor", "own")})
if RETAILERS:
    MATRIX.update({"retailer": key_row("retailer", "self"),
                   "retailer-device": key_row("retailer", "own")})
if CASES:  # `foreign`: a case about someone else's claim answers like a missing one
    MATRIX.update({"applicant": account_row("own"), "case-holder": account_row("own"),
                   "support": support_row(), "org-case": key_row("organization", "foreign"),
        "creditor-case": key_row("creditor", "foreign")})

Target = dict[str, str]


@dataclass(frozen=True)
class Spec:
    audience: str
    body: Callable[[World, str, Target], Any] | None = None
    target: str = "none"  # device | sold-transfer | bought-transfer | message | none
    query: str = ""
    files: bool = False  # sends the body as a multipart upload of a small PNG
    # What another principal's resource answers: the not-found problem, except where the
    # caller proves it holds the device (a bootloader token signed by the device key).
    other: tuple[int, str] = (404, "not-found")


def _lost(w: World, p: str, t: Target) -> Any:
    return {"message": "Please call me", "contact": "+49 30 1234567"}


def _to_partner(w: World, p: str, t: Target) -> Any:
    buyer = PARTNER[p] if p in w.accounts and p in PARTNER else "owner-B"
    return {"to_email": w.accounts[buyer].email}


def _consent(w: World, p: str, t: Target) -> Any:
    return {"tenant_id": w.tenants["org-O2"]}


def _code(w: World, p: str, t: Target) -> Any:
    return {"code": "000000"}


def _bootloader(w: World, p: str, t: Target) -> Any:
    return {"bootloader_token": w.bl_token(t["bl_device"])}


def _org_claim(w: World, p: str, t: Target) -> Any:
    return {"device_ids": [w.devices[p if p in PARTNER else "org-O1"].device_id]}


ROUTES: dict[tuple[str, str], Spec] = {
    ("GET", protocol.NONCE_PATH): Spec("public"),
    ("HEAD", protocol.NONCE_PATH): Spec("public"),
    ("POST", protocol.ACTIVATION_PATH): Spec("device"),
    ("POST", protocol.BIND_PATH): Spec("device"),
    ("POST", protocol.UNBIND_PATH): Spec("device"),
    ("POST", protocol.CHECKIN_PATH): Spec("device"),
    ("POST", "/v1/accounts"): Spec("public", lambda w, p, t: {"email": "x@example.com",
                                                         "password": "short"}),
    ("POST", "/v1/sessions"): Spec("public", lambda w, p, t: {"password": "x"}),
    ("POST", "/v1/password-resets"): Spec("public", lambda w, p, t: {"email": "n@example.com"}),
    ("POST", "/v1/password-resets/confirm"): Spec(
        "public", lambda w, p, t: {"token": "nope", "new_password": "Long-enough-pass-1"}),
    ("GET", "/v1/keys"): Spec("public"),
    ("GET", "/v1/public/status"): Spec("public", query="?device_id=NOSUCH1"),
    ("POST", "/v1/public/messages"): Spec("public", lambda w, p, t: {
        "device_id": "NOSUCH1", "from": "a@example.org", "message": "hi"}),
    ("POST", "/v1/public/messages/confirm"): Spec("public", lambda w, p, t: {"token": "nope"}),
    ("GET", "/healthz"): Spec("public"),
    ("GET", "/readyz"): Spec("public"),
    ("GET", "/metrics"): Spec("public"),
    ("GET", "/v1/me/devices"): Spec("account"),
    ("POST", "/v1/me/totp"): Spec("account"),
    ("POST", "/v1/me/totp/confirm"): Spec("account", _code),
    ("DELETE", "/v1/me/totp"): Spec("account", _code),
    ("POST", "/v1/me/totp/recovery-codes"): Spec("account", _code),
    ("DELETE", "/v1/me"): Spec("account"),  # each owner holds a claim: 409 claims-held
    ("POST", "/v1/unlocks"): Spec("account-device", _bootloader, "bl-token",
                                  other=(403, "unlock-not-permitted")),
    ("DELETE", "/v1/me/devices/{device_id}"): Spec("account-device", target="device"),
    ("POST", "/v1/me/devices/{device_id}/lost"): Spec("account-device", _lost, "device"),
    ("DELETE", "/v1/me/devices/{device_id}/lost"): Spec("account-device", target="device"),
    ("POST", "/v1/me/devices/{device_id}/consents"): Spec("account-device", _consent,
                                                          "device"),
    ("POST", "/v1/me/devices/{device_id}/commands"): Spec(
        "account-device", lambda w, p, t: {"type": "ring"}, "device"),
    ("POST", "/v1/me/devices/{device_id}/transfers"): Spec("account-device", _to_partner,
                                                           "device"),
    ("DELETE", "/v1/me/devices/{device_id}/transfers/{transfer_id}"): Spec(
        "account-device", target="sold-transfer"),
    ("POST", "/v1/transfers/{transfer_id}/accept"): Spec(
        "account-device", lambda w, p, t: {"code": "WRONGCODE1"}, "bought-transfer"),
    ("POST", "/v1/me/messages/{message_id}/reply"): Spec(
        "account-device", lambda w, p, t: {"message": "Thank you"}, "message"),
    ("POST", "/v1/org/devices"): Spec("org", _org_claim),
    ("GET", "/v1/org/devices/{device_id}"): Spec("org-device", target="device"),
    ("DELETE", "/v1/org/devices/{device_id}"): Spec("org-device", target="device"),
    ("POST", "/v1/org/devices/{device_id}/bypass-code"): Spec("org-device", target="device"),
    ("POST", "/v1/admin/devices/import"): Spec("operator"),
    ("GET", "/v1/admin/policy"): Spec("operator"),
    ("POST", "/v1/admin/policy"): Spec("operator"),
    ("GET", "/v1/admin/policy/versions"): Spec("operator"),
    ("POST", "/v1/admin/policy/validate"): Spec("operator"),
    ("POST", "/v1/admin/policy/dry-run"): Spec("operator"),
    ("POST", "/v1/admin/policy/rollback"): Spec("operator"),
    ("POST", "/v1/admin/policy/withdraw"): Spec("operator"),
}

CREDITOR = "/v1/creditor/devices"
if CREDITORS:
    ROUTES.update({
        ("POST", CREDITOR): Spec("creditor", lambda w, p, t: {
            "device_id": w.devices[p if p in PARTNER else "creditor-C1"].device_id,
            "loan_id": secrets.token_hex(6), "contact": "+49 30 5550000"}),
        ("GET", CREDITOR + "/{device_id}"): Spec("creditor-device", target="device"),
        ("POST", CREDITOR + "/{device_id}/reminders"): Spec(
            "creditor-device", lambda w, p, t: {"message": "Please pay"}, "device"),
        ("POST", CREDITOR + "/{device_id}/lock"): Spec(
            "creditor-device", lambda w, p, t: {"message": "Locked: call us"}, "device"),
        ("POST", CREDITOR + "/{device_id}/unlock"): Spec("creditor-device", target="device"),
        ("POST", CREDITOR + "/{device_id}/complete"): Spec("creditor-device",
                                                            target="device"),
        ("DELETE", CREDITOR + "/{device_id}/complete"): Spec("creditor-device",
                                                              target="device"),
    })
if RETAILERS:
    ROUTES.update({
        ("POST", "/v1/retailer/sales"): Spec("retailer", lambda w, p, t: {"sales": [{
            "device_id": w.devices[p if p in PARTNER else "retailer-R1"].device_id,
            "sold_on": w.past_date(), "territory": "DE"}]}),
        ("GET", "/v1/retailer/sales/{device_id}"): Spec("retailer-device", target="device"),
    })
if CASES:
    OBJECTION = {"statement": "This device is mine and was stolen."}
    ROUTES.update({
        ("POST", "/v1/cases"): Spec("account", lambda w, p, t: {
            "device_id": "NOSUCH1", "kind": "activation-lock", "statement": "mine",
            "purchase": {"date": "2026-11-01", "seller": "Shop", "price": "1.00",
                         "currency": "EUR"}, "appeal_token": "x.y.z"}),
        ("GET", "/v1/cases/{case_id}"): Spec("applicant", target="case"),
        ("POST", "/v1/cases/{case_id}/evidence"): Spec("applicant", target="case",
                                                        files=True),
        ("GET", "/v1/cases/{case_id}/evidence/{evidence_id}"): Spec("applicant",
                                                                     target="case"),
        ("POST", "/v1/cases/{case_id}/objection"): Spec(
            "case-holder", lambda w, p, t: OBJECTION, "held-case"),
        ("GET", "/v1/support/cases"): Spec("support"),
        ("GET", "/v1/support/cases/{case_id}"): Spec("support", target="case"),
        ("GET", "/v1/support/cases/{case_id}/evidence/{evidence_id}"): Spec(
            "support", target="case"),
        ("POST", "/v1/support/cases/{case_id}/decisions"): Spec(
            "support", lambda w, p, t: {"decision": "maybe"}, "case"),
        ("POST", "/v1/org/cases/{case_id}/objection"): Spec(
            "org-case", lambda w, p, t: OBJECTION, "case"),
    })
    ROUTES[("POST", "/v1/creditor/cases/{case_id}/objection")] = Spec(
        "creditor-case", lambda w, p, t: OBJECTION, "case")

# Routes whose answer is documentation, not data (the same for everyone).
DOCUMENTATION = {"/openapi.json", "/docs", "/v1/openapi.json"}
WEB_PATHS = tuple(p for p in WEB_PREFIXES if p != "/")


def cases() -> Iterator[Any]:
    for (method, path), spec in ROUTES.items():
        for principal in PRINCIPALS:
            expected = MATRIX[spec.audience][principal]
            variants = (("own-device", "other-device") if expected in ("own", "signed")
                        else ("",))
            for variant in variants:
                name = f"{method} {path} × {principal}" + (f" × {variant}" if variant else "")
                yield pytest.param(method, path, principal, expected, variant, id=name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    base: Path = tmp_path_factory.mktemp(f"authz-{request.param}")
    yield from build_world(request.param, base)


# -- what each principal sends ---------------------------------------------------------------

def headers(w: World, principal: str) -> dict[str, str]:
    if principal in w.accounts:
        return bearer(w.accounts[principal].token)
    if principal in w.keys:
        return bearer(w.keys[principal])
    return {"garbage-bearer": bearer("tnr_0123456789abcdef_" + "x" * 43),
            "basic-auth": {"Authorization": "Basic b3duZXI6cGFzc3dvcmQ="}}.get(principal, {})


def target(w: World, kind: str, holder: str, fresh: bool) -> Target:
    """Path parameters naming a resource of `holder` (a new one when `fresh`)."""
    if kind == "device":
        device = (w.held(holder) if holder in w.tenants else w.owned(holder)) if fresh \
            else w.devices[holder]
        return {"device_id": device.device_id}
    if kind == "sold-transfer":
        if not fresh:
            return dict(w.sold[holder])
        device, transfer = w.transfer(holder, PARTNER[holder])
        return {"device_id": device.device_id, "transfer_id": transfer}
    if kind == "bought-transfer":
        return {"transfer_id": w.transfer(PARTNER[holder], holder)[1] if fresh
                else w.transfers[holder]}
    if kind == "bl-token":
        return {"bl_device": target(w, "device", holder, fresh)["device_id"]}
    if kind == "message":
        return {"message_id": w.messages[holder]}
    if kind == "case":  # the holder's own case, as its applicant
        return dict(w.cases[holder])
    if kind == "held-case":  # the case against the holder's device
        return dict(w.cases[PARTNER[holder]])
    return {}


def missing(kind: str) -> Target:
    names = {"device": ["device_id"], "sold-transfer": ["device_id", "transfer_id"],
             "bought-transfer": ["transfer_id"], "message": ["message_id"],
             "bl-token": ["bl_device"], "case": ["case_id", "evidence_id"],
             "held-case": ["case_id", "evidence_id"]}[kind]
    return {name: f"NX{secrets.token_hex(8).upper()}" for name in names}


def call(w: World, method: str, path: str, principal: str, params: Target,
         spec: Spec) -> httpx.Response:
    url = path.format(**{k: v for k, v in params.items() if k != "bl_device"}) + spec.query
    body = spec.body(w, principal, params) if spec.body else ({} if method == "POST" else None)
    if principal == "device":  # a device signs what it sends; it has no bearer credential
        assert w.signer is not None
        jws, _ = w.signer.sign(url.split("?")[0], body or {})
        return w.client.request(method, url, content=json.dumps(jws),
                                headers={"Content-Type": JOSE})
    kwargs: dict[str, Any] = {"headers": headers(w, principal)}
    if spec.files:
        kwargs["files"] = {"file": ("receipt.png", PNG, "image/png")}
    elif body is not None:
        kwargs["json"] = body
    return w.client.request(method, url, **kwargs)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}: {response.status_code} " \
                                           f"{response.text[:300]}"
    assert response.headers["content-type"].startswith(protocol.PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    return body


# -- the matrix --------------------------------------------------------------------------------

def test_every_route_has_a_decision(world: World) -> None:
    """A route the app serves or documents without an entry here fails, by name."""
    served = set()
    for route in create_app(world.runtime).routes:
        # pages have their own matrix (test_web_authz.py), which checks its own coverage
        if isinstance(route, Route) and route.path not in DOCUMENTATION \
                and not route.path.startswith(WEB_PATHS) and route.path != "/":
            methods = set(route.methods or ())
            if "GET" in methods and route.path != protocol.NONCE_PATH:
                methods.discard("HEAD")  # Starlette's automatic HEAD of a GET: same rule
            served |= {(m, route.path) for m in methods}
    documented = {(m.upper(), p) for p, ops in PATHS.items() for m in ops
                  if p not in DOCUMENTATION}
    unknown = sorted((served | documented) - set(ROUTES))
    assert not unknown, f"routes without an authorization decision: {unknown}"
    for audience, row in MATRIX.items():
        assert set(row) == set(PRINCIPALS), f"{audience}: {set(PRINCIPALS) ^ set(row)}"


@pytest.mark.parametrize(("method", "path", "principal", "expected", "variant"), list(cases()))
def test_matrix(world: World, method: str, path: str, principal: str,
                expected: str | int, variant: str) -> None:
    spec = ROUTES[(method, path)]
    world.last = None if expected in ("own", "signed", "public", "self") else world.last
    mutating = method not in ("GET", "HEAD")
    if expected == "signed":
        _device_cell(world, method, path, variant)
        return
    if expected == "own" and variant == "own-device":
        answer = call(world, method, path, principal,
                      target(world, spec.target, principal, fresh=mutating), spec)
        assert answer.status_code < 500, answer.text[:300]
        if answer.status_code in UNCHANGED:  # only a business refusal of this route
            assert answer.json()["type"] in BUSINESS_REFUSALS, answer.text[:300]
        return
    if expected == "own" and spec.other[0] != 404:  # the refusal says why, and no more
        before = world.settled()
        answer = call(world, method, path, principal,
                      target(world, spec.target, PARTNER[principal], fresh=False), spec)
        assert problem(answer, spec.other[0])["type"] == protocol.PROBLEM_PREFIX + spec.other[1]
        assert world.unchanged(before), "a refused call changed the database"
        return
    if expected == "own":  # another principal's resource: exactly like a missing one
        other = target(world, spec.target, PARTNER[principal], fresh=False)
        before = world.settled()
        answer = call(world, method, path, principal, other, spec)
        assert world.unchanged(before), "a refused call changed the database"
        nowhere = missing(spec.target)
        absent = call(world, method, path, principal, nowhere, spec)
        assert strip_ids(problem(answer, 404), *other.values()) == \
            strip_ids(problem(absent, 404), *nowhere.values())
        return
    if expected == "foreign":  # a tenant asking about a case on someone else's claim
        foreign = target(world, spec.target, "owner-A", fresh=False)
        before = world.settled()
        answer = call(world, method, path, principal, foreign, spec)
        assert world.unchanged(before), "a refused call changed the database"
        nowhere = missing(spec.target)
        absent = call(world, method, path, principal, nowhere, spec)
        assert strip_ids(problem(answer, 404), *foreign.values()) == \
            strip_ids(problem(absent, 404), *nowhere.values())
        return
    victim = ("owner-A" if spec.target in ("case", "held-case")
              else VICTIM.get(spec.audience.split("-")[0], "owner-A"))
    params = target(world, spec.target, victim, fresh=False) if spec.target != "none" else {}
    before = world.settled() if mutating and expected not in ("public", "self") else None
    answer = call(world, method, path, principal, params, spec)
    assert answer.status_code < 500, answer.text[:300]
    if expected in ("public", "self"):
        assert answer.status_code not in (401, 403), answer.text[:300]
    elif expected in ("unsigned", "refused"):
        assert 400 <= answer.status_code < 500 and answer.status_code != 404, \
            answer.text[:300]
    elif expected == 404 and spec.other[0] != 404:  # the refusal that says why (unlocks)
        assert problem(answer, spec.other[0])["type"] == protocol.PROBLEM_PREFIX + spec.other[1]
    else:
        problem(answer, int(expected))
    if before is not None and answer.status_code >= 400:
        assert world.unchanged(before), "a refused call changed the database"


def _device_cell(world: World, method: str, path: str, variant: str) -> None:
    device = world.device()
    payload: dict[str, Any] = {}
    if path == protocol.BIND_PATH or path == protocol.UNBIND_PATH:
        payload = {"account_token": world.accounts["owner-A"].token}
    if variant == "own-device":
        answer = device.post(path, payload)
        assert answer.status_code not in UNCHANGED and answer.status_code < 500, \
            answer.response.text[:300]
        return
    before = world.settled()
    answer = device.post(path, payload, kid=world.devices["owner-B"].device_id)
    answer.problem("bad-signature", 401)
    assert world.unchanged(before), "a refused call changed the database"


# -- what a tenant's answers never carry ------------------------------------------------------

def test_a_tenant_view_shows_nothing_it_must_not(world: World) -> None:
    """DO1 is owned by A and consented to O1: O1's answers about it name no owner, no
    location, no territory evidence and no other holder."""
    owner = world.accounts["owner-A"]
    device = world.devices["org-O1"]
    key = bearer(world.keys["org-O1"])
    answers = [world.client.get(f"/v1/org/devices/{device.device_id}", headers=key),
               world.client.post("/v1/org/devices", headers=key,
                                 json={"device_ids": [device.device_id,
                                                      world.devices["org-O2"].device_id]})]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for secret in (owner.email, owner.hint, owner.account_id, world.tenants["org-O2"]):
            assert secret.lower() not in answer.text.lower(), f"{secret!r} in {answer.text}"
        words = _keys_and_values(answer)
        for name in ("owner", "hint", "territory", "location", "signals", "gnss", "sim_mcc",
                     "ip", "claims", "holder", "email"):
            assert name not in words, f"{name!r} in {answer.text}"


def _keys_and_values(answer: httpx.Response) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                found.add(str(k).lower())
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        else:
            found.add(str(node).lower())

    walk(answer.json())
    return found


# -- a tenant's credential is checked before its body -----------------------------------------

KEY_FIRST = [("/v1/org/devices", {"device_ids": "nonsense"}),
             ("/v1/org/devices", {"device_ids": [1, 2]})]
if CREDITORS:
    KEY_FIRST += [(CREDITOR + "/{device_id}/reminders", {"message": 7}),
                  (CREDITOR + "/{device_id}/lock", {"message": "x" * 5000}),
                  (CREDITOR, {"offline_lock_days": 3})]


@pytest.mark.parametrize(("principal", "status"), [("anonymous", 401), ("garbage-bearer", 401),
                                                   ("revoked-key", 401), ("admin-key", 403),
                                                   ("owner-A", 401)])
@pytest.mark.parametrize(("path", "body"), KEY_FIRST)
def test_tenant_calls_check_the_key_before_the_body(world: World, principal: str,
                                                    status: int, path: str,
                                                    body: dict[str, Any]) -> None:
    """`401` without a valid key, `403` for a key of another role — whatever the body:
    a bulk organization claim and a creditor's reminder and lock used to read the body
    first and answer 422 to anyone."""
    victim = "creditor-C1" if path.startswith(CREDITOR) else "org-O1"
    url = path.format(device_id=world.devices[victim].device_id)
    answer = world.client.post(url, json=body, headers=headers(world, principal))
    problem(answer, status)
