"""The territory policy over the admin API, for keys with the `policy` role.

A compliance team drives policy changes from its own tooling: validate, dry-run, apply
with a reason, list versions, roll back. The API must answer with problem+json a tool
can act on (every problem of a bad document at once), and only to the right keys.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.agent.device import random_imei
from tenure.bootstrap import Services
from tenure.crypto.keys import SigningKey
from tenure.domain.in_use import TerritoryState
from tenure.http.app import create_app

POLICY = "/v1/admin/policy"
VERSIONS = "/v1/admin/policy/versions"
VALIDATE = "/v1/admin/policy/validate"
DRY_RUN = "/v1/admin/policy/dry-run"
ROLLBACK = "/v1/admin/policy/rollback"
PROBLEM = "application/problem+json"

SANCTIONS = """\
maker = "Example Phones"
evidence = "corroborated"

[markets]
eu = ["DE", "FR"]

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR", "KP", "UA-43"]
grace_hours = 72
notice_hours = 24
"""

RELAXED = """\
maker = "Example Phones"

[[rules]]
id = "sanctions"
effect = "deny_activation"
territories = ["IR", "KP", "UA-43"]
"""

BROKEN = """\
evidence = "majority"

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR", "XZ", "@nowhere"]
grace_hours = -5
"""


@pytest.fixture
def api(runtime: Services) -> Iterator[TestClient]:
    client = TestClient(create_app(runtime))
    yield client
    client.close()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def policy_key(runtime: Services) -> str:
    return runtime.api_keys.create("policy", "t")


@pytest.fixture
def headers(policy_key: str) -> dict[str, str]:
    return auth(policy_key)


def key_id(key: str) -> str:
    return key.removeprefix("tnr_").partition("_")[0]


def problem(response: httpx.Response, name: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM
    body = response.json()
    assert body["type"] == f"urn:tenure:problem:{name}", body
    assert body["status"] == status and body["detail"], body
    return body


def apply(api: TestClient, headers: dict[str, str], text: str,
          reason: str = "test") -> httpx.Response:
    return api.post(POLICY, content=text.encode(), params={"reason": reason}, headers=headers)


# -- reading -------------------------------------------------------------------------------


def test_no_policy_yet_is_404(api: TestClient, headers: dict[str, str]) -> None:
    problem(api.get(POLICY, headers=headers), "not-found", 404)
    listed = api.get(VERSIONS, headers=headers)
    assert listed.status_code == 200 and listed.json() == {"versions": []}


# -- validate -----------------------------------------------------------------------------


def test_validate_accepts_a_good_policy(api: TestClient, headers: dict[str, str]) -> None:
    response = api.post(VALIDATE, content=SANCTIONS.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"valid": True, "rules": 1, "markets": ["eu"],
                               "evidence": "corroborated"}


def test_validate_lists_every_problem(api: TestClient, headers: dict[str, str]) -> None:
    body = problem(api.post(VALIDATE, content=BROKEN.encode(), headers=headers),
                   "invalid-policy", 422)
    problems = body["problems"]
    assert isinstance(problems, list) and len(problems) == 4, problems
    for start in ("evidence: must be one of",
                  "rules[0] (sanctions).territories: unknown territory code 'XZ'",
                  "rules[0] (sanctions).territories: no market named 'nowhere'",
                  "rules[0] (sanctions).grace_hours: must be a number"):
        assert any(p.startswith(start) for p in problems), (start, problems)


def test_validate_reports_invalid_toml(api: TestClient, headers: dict[str, str]) -> None:
    body = problem(api.post(VALIDATE, content=b'maker = "unterminated\n', headers=headers),
                   "invalid-policy", 422)
    assert body["problems"][0].startswith("not valid TOML")


def test_a_policy_that_is_not_utf8_is_malformed(api: TestClient,
                                                headers: dict[str, str]) -> None:
    problem(api.post(VALIDATE, content=b'maker = "\xff\xfe"\n', headers=headers),
            "malformed", 400)


def test_an_oversize_policy_is_refused(api: TestClient, headers: dict[str, str]) -> None:
    big = SANCTIONS + "# " + "x" * (1024 * 1024) + "\n"
    problem(api.post(VALIDATE, content=big.encode(), headers=headers), "too-large", 413)


def test_a_bad_placeholder_is_an_invalid_policy_not_a_crash(runtime: Services,
                                                            headers: dict[str, str]) -> None:
    text = SANCTIONS + 'message = "Ask {maker.name}"\n'
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        response = client.post(VALIDATE, content=text.encode(), headers=headers)
    problem(response, "invalid-policy", 422)


# -- apply, versions, rollback -------------------------------------------------------------


def test_apply_needs_a_reason_and_stores_nothing_without_one(
    api: TestClient, headers: dict[str, str]
) -> None:
    problem(api.post(POLICY, content=SANCTIONS.encode(), headers=headers), "invalid-input", 422)
    problem(apply(api, headers, SANCTIONS, reason="  "), "invalid-input", 422)
    assert api.get(VERSIONS, headers=headers).json() == {"versions": []}
    problem(api.get(POLICY, headers=headers), "not-found", 404)


def test_apply_refuses_an_invalid_policy(api: TestClient, headers: dict[str, str]) -> None:
    body = problem(apply(api, headers, BROKEN), "invalid-policy", 422)
    assert len(body["problems"]) == 4
    assert api.get(VERSIONS, headers=headers).json() == {"versions": []}


def test_apply_creates_versions_and_rollback_restores(
    api: TestClient, runtime: Services, policy_key: str, headers: dict[str, str]
) -> None:
    author = f"apikey:{key_id(policy_key)}"
    first = apply(api, headers, SANCTIONS, reason="initial export rules")
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and len(first.json()["sha256"]) == 64
    active = api.get(POLICY, headers=headers).json()
    assert (active["version"], active["document"]) == (1, SANCTIONS)
    assert (active["author"], active["reason"]) == (author, "initial export rules")

    second = apply(api, headers, RELAXED, reason="Iran: activation only")
    assert second.status_code == 201 and second.json()["version"] == 2
    assert api.get(POLICY, headers=headers).json()["document"] == RELAXED

    back = api.post(ROLLBACK, json={"version": 1, "reason": "premature"}, headers=headers)
    assert back.status_code == 201, back.text
    assert back.json() == {"version": 3, "rollback_of": 1}
    active = api.get(POLICY, headers=headers).json()
    assert (active["version"], active["document"]) == (3, SANCTIONS)
    assert runtime.policies.current().version == 3

    versions = api.get(VERSIONS, headers=headers).json()["versions"]
    assert [(v["version"], v["reason"], v["rollback_of"]) for v in versions] == [
        (3, "premature", 1), (2, "Iran: activation only", None),
        (1, "initial export rules", None)]
    assert {v["author"] for v in versions} == {author}
    assert versions[0]["sha256"] == first.json()["sha256"]
    with runtime.uow(readonly=True) as tx:
        events = tx.audit.events("policy")
    assert [(e["actor"], e["data"]["version"]) for e in events] == [
        (author, 1), (author, 2), (author, 3)]


@pytest.mark.parametrize(("body", "name", "status"), [
    ({"version": 9, "reason": "x"}, "not-found", 404),
    ({"version": "1", "reason": "x"}, "invalid-input", 422),
    ({"version": True, "reason": "x"}, "invalid-input", 422),
    ({"reason": "x"}, "invalid-input", 422),
])
def test_rollback_refuses_what_is_not_an_earlier_version(
    api: TestClient, headers: dict[str, str], body: dict[str, Any], name: str, status: int
) -> None:
    assert apply(api, headers, SANCTIONS).status_code == 201
    problem(api.post(ROLLBACK, json=body, headers=headers), name, status)
    assert len(api.get(VERSIONS, headers=headers).json()["versions"]) == 1


def test_rollback_body_must_be_json(api: TestClient, headers: dict[str, str]) -> None:
    problem(api.post(ROLLBACK, content=b"version=1", headers=headers), "malformed", 400)


# -- dry-run -------------------------------------------------------------------------------


def seed_fleet(runtime: Services) -> None:
    """Three phones in use: two in Iran (TP1, TP2), one in Crimea (TP1)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["device_id", "imei", "model", "sku", "market", "public_key"])
    fleet = [("SN-IR-1", "TP1", "IR"), ("SN-IR-2", "TP2", "IR"), ("SN-UA-1", "TP1", "UA-43"),
             ("SN-DE-1", "TP1", "DE")]
    for device_id, model, _ in fleet:
        der = SigningKey.generate().public().spki_der()
        writer.writerow([device_id, random_imei(), model, f"{model}-64", "eu",
                         base64.b64encode(der).decode()])
    report = runtime.importer.run(
        io.BytesIO(out.getvalue().encode()), "csv", actor="test")
    assert report.committed, report.as_json()
    now = runtime.clock.now()
    with runtime.uow() as tx:
        for device_id, _, territory in fleet:
            tx.territory.put(device_id, TerritoryState(territory=territory, since=now), now)
            tx.devices.set_activated(device_id, now)


def test_dry_run_reports_the_impact_and_applies_nothing(
    api: TestClient, runtime: Services, headers: dict[str, str]
) -> None:
    seed_fleet(runtime)
    response = api.post(DRY_RUN, content=SANCTIONS.encode(), headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from_version"] == 0
    rows = {(r["model"], r["territory"]): (r["newly_refused"], r["newly_locked"], r["released"])
            for r in body["rows"]}
    assert rows == {("TP1", "IR"): (1, 1, 0), ("TP2", "IR"): (1, 1, 0),
                    ("TP1", "UA-43"): (1, 1, 0)}
    assert body["totals"]["newly_locked"] == 3
    assert api.get(VERSIONS, headers=headers).json() == {"versions": []}
    assert runtime.policies.current().version == 0


def test_dry_run_of_an_invalid_policy_lists_its_problems(
    api: TestClient, headers: dict[str, str]
) -> None:
    body = problem(api.post(DRY_RUN, content=BROKEN.encode(), headers=headers),
                   "invalid-policy", 422)
    assert len(body["problems"]) == 4


# -- who may ---------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", POLICY, None), ("GET", VERSIONS, None),
    ("POST", VALIDATE, SANCTIONS.encode()), ("POST", DRY_RUN, SANCTIONS.encode()),
    ("POST", POLICY + "?reason=sneaky", SANCTIONS.encode()),
    ("POST", ROLLBACK, b'{"version": 1, "reason": "sneaky"}'),
]


@pytest.mark.parametrize(("method", "path", "content"), ENDPOINTS)
def test_a_factory_key_is_forbidden(api: TestClient, runtime: Services, method: str, path: str,
                                    content: bytes | None) -> None:
    factory = runtime.api_keys.create("factory", "line 3")
    response = api.request(method, path, content=content, headers=auth(factory))
    problem(response, "forbidden", 403)
    assert runtime.policies.history() == []


@pytest.mark.parametrize(("method", "path", "content"), ENDPOINTS)
@pytest.mark.parametrize("presented", [None, "Bearer tnr_0000000000000000_nope", "Basic abc"])
def test_without_a_valid_key_it_is_401(api: TestClient, runtime: Services, method: str,
                                       path: str, content: bytes | None,
                                       presented: str | None) -> None:
    headers = {} if presented is None else {"Authorization": presented}
    problem(api.request(method, path, content=content, headers=headers), "unauthorized", 401)
    assert runtime.policies.history() == []


def test_a_revoked_policy_key_is_refused(api: TestClient, runtime: Services, policy_key: str,
                                         headers: dict[str, str]) -> None:
    assert apply(api, headers, SANCTIONS).status_code == 201
    assert runtime.api_keys.revoke(key_id(policy_key))
    problem(apply(api, headers, RELAXED), "unauthorized", 401)
    assert [v.version for v in runtime.policies.history()] == [1]


def test_an_admin_key_may_change_the_policy(api: TestClient, runtime: Services) -> None:
    admin = runtime.api_keys.create("admin", "ops")
    response = apply(api, auth(admin), SANCTIONS, reason="by the operator")
    assert response.status_code == 201, response.text
    assert runtime.policies.history()[0].author == f"apikey:{key_id(admin)}"


WITHDRAW = "/v1/admin/policy/withdraw"


def test_withdraw_over_the_api_returns_to_no_policy(
    api: TestClient, runtime: Services, policy_key: str, headers: dict[str, str]
) -> None:
    assert apply(api, headers, SANCTIONS).status_code == 201
    problem(api.post(ROLLBACK, json={"version": 0, "reason": "x"}, headers=headers),
            "not-found", 404)
    problem(api.post(WITHDRAW, json={}, headers=headers), "invalid-input", 422)
    done = api.post(WITHDRAW, json={"reason": "licence granted"}, headers=headers)
    assert done.status_code == 201, done.text
    assert done.json() == {"version": 2, "withdrawn": True}
    assert runtime.policies.current().policy.rules == ()
    versions = api.get(VERSIONS, headers=headers).json()["versions"]
    assert [(v["version"], v["reason"]) for v in versions][0] == (2, "licence granted")
    with runtime.uow(readonly=True) as tx:
        last = tx.audit.events("policy")[-1]
    assert (last["action"], last["actor"]) == ("policy.withdrawn",
                                               f"apikey:{key_id(policy_key)}")
    problem(api.post(WITHDRAW, json={"reason": "again"}, headers=headers), "invalid-input", 422)
    assert api.post(WITHDRAW, json={"reason": "x"}).status_code == 401
