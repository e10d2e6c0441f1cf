"""The OpenAPI document states exactly the routes the app serves, and is valid OpenAPI 3.1.

The document is written by hand (src/tenure/http/openapi_paths.py); these tests are what
keeps it from drifting when a route or a problem type is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from tenure.domain.errors import TenureError
from tenure.http.openapi import PROBLEM_PREFIX, document, operations
from tenure.web.errors import WEB_PREFIXES

WEB_PATHS = tuple(p for p in WEB_PREFIXES if p != "/")
# Codes answered outside TenureError (routing, the import report).
NOT_ERROR_CLASSES = {"not-found", "method-not-allowed", "invalid-rows"}
# Error codes no HTTP answer documents: the 500 (never promised) and the operator's
# start-up and CLI failures (configuration, key ring, geolocation data).
NOT_ANSWERED_OVER_HTTP = {"", "internal", "invalid-config", "key-ring", "geo-data"}


def _served(routes: Iterable[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _served(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", prefix + route.path)
            found |= {(method, path) for method in route.methods or ()}
    return found


def _without_head(ops: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(m, p) for m, p in ops if m != "HEAD"}


def test_document_lists_exactly_the_served_routes(client: TestClient) -> None:
    # pages (the portal, public pages, console) are no API: test_web_authz.py lists them
    served = {(m, p) for m, p in _served(client.app.routes)  # type: ignore[attr-defined]
              if not (p == "/" or p.startswith(WEB_PATHS))}
    documented = operations()
    # Starlette answers HEAD wherever it answers GET; the document names HEAD only
    # where the protocol does (the nonce), so HEAD is compared one way.
    assert _without_head(documented) == _without_head(served), (
        f"undocumented: {sorted(_without_head(served) - documented)}; "
        f"documented but not served: {sorted(_without_head(documented - served))}")
    assert {op for op in documented if op[0] == "HEAD"} <= served


def test_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def _problem_types(doc: dict[str, Any]) -> set[str]:
    return {t for methods in doc["paths"].values() for op in methods.values()
            for types in op["x-problem-types"].values() for t in types}


def _error_codes() -> set[str]:
    found, todo = set(), list(TenureError.__subclasses__())
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found


def test_every_problem_type_is_one_the_server_has_and_every_error_is_documented(
        client: TestClient) -> None:
    documented = {t.removeprefix(PROBLEM_PREFIX) for t in _problem_types(document())}
    codes = _error_codes()  # the app is built, so every module with an error is imported
    assert documented - codes - NOT_ERROR_CLASSES == set()
    assert codes - NOT_ANSWERED_OVER_HTTP - documented == set(), (
        "errors no operation documents")


def test_served_document_and_docs_page(client: TestClient) -> None:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == document()

    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    html = page.text
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    for method, path in operations():
        assert f"{method} {path}" in html.replace('<span class="m">', "").replace(
            "</span>", " "), (method, path)
    for problem_type in _problem_types(document()):
        assert problem_type in html


def test_documented_problem_matches_a_real_answer(client: TestClient) -> None:
    """One answer per audience, checked against the document's problem types."""
    doc = document()
    for method, path, body in [("post", "/v1/accounts", b"not json"),
                               ("get", "/v1/me/devices", None),
                               ("post", "/v1/device/checkin", b"{}"),
                               ("get", "/v1/admin/policy", None)]:
        answer = client.request(method, path, content=body)
        assert answer.headers["content-type"] == "application/problem+json"
        allowed = doc["paths"][path][method]["x-problem-types"][str(answer.status_code)]
        assert answer.json()["type"] in allowed
