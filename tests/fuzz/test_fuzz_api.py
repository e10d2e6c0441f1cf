"""Schemathesis against a running `tenure serve`, from the document the server itself serves.

Every generated request, well-formed (positive) or breaking the schema (negative), with
and without the audience's credential, must get an answer that the document allows
(status, content type, headers, body schema — for problems, one of the listed `type`s),
never a 5xx; and a 4xx must leave the database exactly as it was (see conftest.py for the
few rows a refusal writes on purpose). Failures are collected, not shrunk, so one run
lists them all with a curl line to reproduce each.

Bounded for CI (TENURE_FUZZ_EXAMPLES examples per operation and mode, default 6;
TENURE_FUZZ_STATEFUL_EXAMPLES sequences, default 12). In `make test` the examples are
derandomized — the same every run, so CI's verdict is reproducible and a red run points
at a real change; `make fuzz` (TENURE_FUZZ_RANDOM=1) draws new ones with a larger budget.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenure.http.openapi import operations as documented_operations

from .conftest import FuzzTarget

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("TENURE_FUZZ_EXAMPLES", "6"))
# Enough sequences that one follows the accounts → sessions link (checked below) with
# every operation in the pool, the public status check included.
STATEFUL_EXAMPLES = int(os.environ.get("TENURE_FUZZ_STATEFUL_EXAMPLES", "12"))
SIGNUPS = itertools.count(1)
DERANDOMIZE = os.environ.get("TENURE_FUZZ_RANDOM", "") not in ("1", "true", "yes")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@schemathesis.serializer("application/toml", "text/csv", "application/jsonl")
def text_body(_: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    """Text bodies (policy TOML, import files) go out as they were generated, lone
    surrogates included (as the invalid UTF-8 a hostile client would send)."""
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    return {"data": json.dumps(value).encode()}


def audience(path: str) -> str | None:
    """Which credential an operation takes (conftest.py makes one of each)."""
    if path.startswith(("/v1/me/", "/v1/unlocks")) or path == "/v1/me":
        return "account"
    if path.startswith("/v1/admin/devices"):
        return "factory"
    if path.startswith("/v1/admin/policy"):
        return "policy"
    if path.startswith("/v1/org/"):
        return "organization"
    return None


@dataclass
class Findings:
    items: list[str] = field(default_factory=list)
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, case: Case, what: str) -> None:
        curl = case.as_curl_command()
        self.items.append(f"{case.method} {case.path}: {what}\n    {curl}")

    def report(self) -> str:
        unique = sorted(set(self.items))
        return f"{len(unique)} findings in {self.calls} requests:\n" + "\n".join(unique)


def exercise(target: FuzzTarget, case: Case, with_credential: bool, found: Findings) -> None:
    """Send one case; record any answer the contract does not allow."""
    token = target.credentials.get(audience(case.path) or "")
    headers = {"Authorization": f"Bearer {token}"} if token and with_credential else {}
    before = target.fingerprint()
    response = case.call(base_url=target.url, headers=headers, timeout=30)
    found.calls += 1
    found.statuses[response.status_code] = found.statuses.get(response.status_code, 0) + 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except (AssertionError, BaseExceptionGroup) as exc:
        failures = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        titles = "; ".join(str(getattr(f, "title", f)) for f in failures)
        found.add(case, f"{response.status_code} {titles}: {response.text[:160]!r}")
    if 400 <= response.status_code < 500:
        after = target.fingerprint()
        changed = sorted(name for name in after if after[name] != before.get(name))
        if changed:
            found.add(case, f"{response.status_code} changed tables {changed}")


def _fuzz_operation(strategy: Any, run: Callable[[Case, bool], None]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, with_credential=st.booleans())
    def fuzz(case: Case, with_credential: bool) -> None:
        run(case, with_credential)

    fuzz()


def test_stateless_fuzzing_finds_no_5xx_no_contract_breach_no_change_on_4xx(
        fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_target.url}/openapi.json")
    found = Findings()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Schemathesis leaves out the endpoint it loaded the document from.
    assert ({(op.method.upper(), op.path) for op in operations}
            == documented_operations() - {("GET", "/openapi.json")})
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # noqa: BLE001 - some operations have no negative form
                if mode is GenerationMode.NEGATIVE:
                    continue
                raise AssertionError(f"{operation.label}: {exc}") from exc
            try:
                _fuzz_operation(strategy, lambda case, cred: exercise(fuzz_target, case, cred,
                                                                      found))
            except Unsatisfiable:
                # Nothing in this operation can break the schema (no body, no parameter).
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert found.calls >= len(operations) * EXAMPLES
    assert not found.items, found.report()


def test_stateful_fuzzing_along_links_finds_nothing(fuzz_target: FuzzTarget) -> None:
    """Sequences that follow the document's links (create an account, then sign in with
    it or ask for its password reset), mixed with every other operation."""
    schema = schemathesis.openapi.from_url(f"{fuzz_target.url}/openapi.json")
    found = Findings()
    seen: dict[tuple[str, str, int], int] = {}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            token = fuzz_target.credentials.get(audience(case.path) or "")
            return {"base_url": fuzz_target.url, "timeout": 30,
                    "headers": {"Authorization": f"Bearer {token}"} if token else {}}

        def before_call(self, case: Case) -> None:
            # A fresh address for each sign-up: the server keeps accounts from one
            # sequence to the next, and an address drawn again would answer 409 where it
            # answered 201 — the same draws, another path (hypothesis stops, "flaky").
            body = case.body
            if (case.method == "POST" and case.path == "/v1/accounts"
                    and isinstance(body, dict) and isinstance(body.get("email"), str)):
                body["email"] = f"{next(SIGNUPS)}.{body['email']}"
            self._before = fuzz_target.fingerprint()

        def after_call(self, response: Any, case: Case) -> None:
            key = (case.method, case.path, response.status_code)
            seen[key] = seen.get(key, 0) + 1
            found.calls += 1
            if 400 <= response.status_code < 500:
                after = fuzz_target.fingerprint()
                changed = sorted(n for n in after if after[n] != self._before.get(n))
                if changed:
                    found.add(case, f"{response.status_code} changed tables {changed}")

        def validate_response(self, response: Any, case: Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS,
                                       headers=kwargs.get("headers"))
            except (AssertionError, BaseExceptionGroup) as exc:
                failures = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                titles = "; ".join(str(getattr(f, "title", f)) for f in failures)
                found.add(case, f"{response.status_code} {titles}: {response.text[:160]!r}")

    Workflow.run(settings=settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, deadline=None,
        database=None, derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck)))
    assert not found.items, found.report()
    # The links lead somewhere: only an account made in the same sequence can sign in.
    # Whether a dozen drawn sequences happen to take the link depends on the draws (in
    # the full suite they sometimes did not), so the link is also followed once by hand.
    if not seen.get(("POST", "/v1/sessions", 201), 0):
        assert follow_sign_in_link(fuzz_target.url) == 201, sorted(seen.items())


def follow_sign_in_link(url: str) -> int:
    """Register an account, then call what the document's `SignIn` link names, with the
    body its runtime expressions (`$request.body#/...`) pick from the registration."""
    doc = httpx.get(f"{url}/openapi.json", timeout=30).json()
    link = doc["paths"]["/v1/accounts"]["post"]["responses"]["201"]["links"]["SignIn"]
    target = next(path for path, ops in doc["paths"].items() for op in ops.values()
                  if isinstance(op, dict) and op.get("operationId") == link["operationId"])
    sent = {"email": f"{next(SIGNUPS)}.link@example.org",
            "password": "a long and unlikely passphrase"}
    assert httpx.post(f"{url}/v1/accounts", json=sent, timeout=30).status_code == 201
    body = {name: sent[expr.removeprefix("$request.body#/")]
            for name, expr in link["requestBody"].items()}
    return httpx.post(f"{url}{target}", json=body, timeout=30).status_code
