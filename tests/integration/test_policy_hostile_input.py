"""Hostile input to the policy admin API is refused with a problem, never a 500.

Found by fuzzing the admin API: TOML nested a few thousand deep overflowed the parser's
stack, and an integer of more than 4300 digits hit Python's conversion limit, both
escaping as internal errors from validate, dry-run and apply; a rollback to a version
number past 32 bits overflowed PostgreSQL's INTEGER.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.http.app import create_app

HOSTILE = {
    "deep-array": "x = " + "[" * 5000 + "]" * 5000,
    "deep-inline-table": "x = " + "{a = " * 3000 + "1" + "}" * 3000,
    "huge-integer": "x = " + "1" * 5000,
}


@pytest.fixture
def admin(runtime: Services) -> Iterator[TestClient]:
    key = runtime.api_keys.create("policy", "compliance")
    with TestClient(create_app(runtime), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("path", ["/v1/admin/policy/validate", "/v1/admin/policy/dry-run",
                                  "/v1/admin/policy?reason=fuzz"])
def test_hostile_toml_is_an_invalid_policy(admin: TestClient, path: str, name: str) -> None:
    answer = admin.post(path, content=HOSTILE[name].encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "urn:tenure:problem:invalid-policy"
    assert answer.json()["problems"][0].startswith("not valid TOML")
    assert admin.get("/v1/admin/policy/versions").json()["versions"] == []


@pytest.mark.parametrize("version", [0, -1, 2**31, 2**63, 266995629876450])
def test_rollback_to_a_version_that_cannot_exist_is_not_found(admin: TestClient,
                                                               version: int) -> None:
    answer = admin.post("/v1/admin/policy/rollback", json={"version": version})
    assert answer.status_code == 404, answer.text
    assert answer.json()["type"] == "urn:tenure:problem:not-found"
