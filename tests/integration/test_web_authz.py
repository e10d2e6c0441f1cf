"""The pages' authorization matrix: every page route × every kind of visitor, on both
databases. A page route without an entry fails by name, as in the API's matrix
(test_authz_matrix.py), which leaves the pages to this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route

from tenure.http.app import create_app
from tenure.web.errors import WEB_PREFIXES

from .authz_world import World, build_world

# (method, path) -> who may use it: "public" (anyone), "owner" (a signed-in account),
# "support" (a support agent signed in with a second factor), "operator" (an operator's
# API key of the role admin; the policy pages also take the role policy), "console"
# (either a support agent or an operator with an admin key: the console's device
# lookup and its start page, docs/console.md)
WEB_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "owner",
    ("GET", "/signin"): "public",
    ("POST", "/signin"): "public",
    ("POST", "/signout"): "owner",
    # the public pages (web/public.py, web/appeal.py): an appeal belongs to an account
    ("GET", "/status"): "public",
    ("GET", "/status/statement"): "public",
    ("GET", "/messages"): "public",
    ("POST", "/messages"): "public",
    ("GET", "/messages/confirm"): "public",
    ("POST", "/messages/confirm"): "public",
    ("GET", "/appeal"): "public",
    ("POST", "/appeal"): "owner",
    ("GET", "/appeal/{case_id}"): "owner",
    ("POST", "/appeal/{case_id}/evidence"): "owner",
    # the owner portal (web/owner*.py)
    ("GET", "/signup"): "public",
    ("POST", "/signup"): "public",
    ("GET", "/reset"): "public",
    ("POST", "/reset"): "public",
    ("GET", "/reset/confirm"): "public",
    ("POST", "/reset/confirm"): "public",
    ("POST", "/devices/{device_id}/remove"): "owner",
    ("POST", "/devices/{device_id}/lost"): "owner",
    ("POST", "/devices/{device_id}/found"): "owner",
    ("POST", "/devices/{device_id}/commands"): "owner",
    ("POST", "/devices/{device_id}/consents"): "owner",
    ("POST", "/devices/{device_id}/transfers"): "owner",
    ("POST", "/devices/{device_id}/transfers/{transfer_id}/cancel"): "owner",
    ("POST", "/devices/{device_id}/unlock"): "owner",
    ("GET", "/account"): "owner",
    ("POST", "/account/totp"): "owner",
    ("POST", "/account/totp/confirm"): "owner",
    ("POST", "/account/totp/disable"): "owner",
    ("POST", "/account/totp/recovery-codes"): "owner",
    ("GET", "/account/delete"): "owner",
    ("POST", "/account/delete"): "owner",
    ("GET", "/transfers/{transfer_id}"): "owner",
    ("POST", "/transfers/{transfer_id}"): "owner",
    # the support and operator console (web/console*.py, docs/console.md)
    ("GET", "/console"): "console",
    ("GET", "/console/signin"): "public",
    ("POST", "/console/signin"): "public",
    ("POST", "/console/signout"): "console",
    ("GET", "/console/devices"): "console",
    ("GET", "/console/devices/{device_id}"): "console",
    ("GET", "/console/cases"): "support",
    ("GET", "/console/cases/{case_id}"): "support",
    ("POST", "/console/cases/{case_id}/decisions"): "support",
    ("GET", "/console/cases/{case_id}/evidence/{evidence_id}"): "support",
    ("GET", "/console/policy"): "operator",
    ("POST", "/console/policy/validate"): "operator",
    ("POST", "/console/policy/dry-run"): "operator",
    ("POST", "/console/policy/apply"): "operator",
    ("POST", "/console/policy/rollback"): "operator",
    ("POST", "/console/policy/withdraw"): "operator",
    ("GET", "/console/audit"): "operator",
    ("GET", "/console/audit.csv"): "operator",
    ("GET", "/console/outbox"): "operator",
    ("POST", "/console/outbox/retry"): "operator",
    ("POST", "/console/outbox/retry-all"): "operator",
}
CONSOLE = ("support", "operator", "console")


def page_routes(world: World) -> set[tuple[str, str]]:
    served = set()
    for route in create_app(world.runtime).routes:
        if isinstance(route, Route) and (route.path == "/" or route.path.startswith(
                tuple(p for p in WEB_PREFIXES if p != "/"))):
            methods = set(route.methods or ()) - {"HEAD"}
            served |= {(m, route.path) for m in methods}
    return served


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    base: Path = tmp_path_factory.mktemp(f"web-authz-{request.param}")
    yield from build_world(request.param, base)


def test_every_page_has_a_decision(world: World) -> None:
    unknown = sorted(page_routes(world) - set(WEB_ROUTES))
    assert not unknown, f"page routes without an authorization decision: {unknown}"


def test_an_anonymous_visitor_is_sent_to_sign_in(world: World) -> None:
    world.client.cookies.clear()
    for (method, path), audience in WEB_ROUTES.items():
        if method != "GET" or audience != "owner" or "{" in path:
            continue
        answer = world.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin"), path


def console_pages(world: World) -> Iterator[tuple[str, str]]:
    """(path, audience) of every console GET page, with the ids of the world filled in."""
    if not world.cases:
        return
    ids = {"{device_id}": world.devices["owner-A"].device_id,
           "{case_id}": world.cases["owner-A"]["case_id"],
           "{evidence_id}": world.cases["owner-A"]["evidence_id"]}
    for (method, path), audience in WEB_ROUTES.items():
        if method == "GET" and audience in CONSOLE:
            for placeholder, value in ids.items():
                path = path.replace(placeholder, value)
            yield path, audience


def visit(world: World, path: str, **cookies: str) -> int:
    world.client.cookies.clear()
    for name, value in cookies.items():
        world.client.cookies.set(name, value)
    try:
        answer = world.client.get(path, follow_redirects=False)
    finally:
        world.client.cookies.clear()
    if answer.status_code == 303 and path != "/console":
        assert answer.headers["location"].startswith("/console/signin"), path
    return answer.status_code


def test_console_pages_send_an_anonymous_visitor_to_the_console_sign_in(world: World) -> None:
    for path, _ in console_pages(world):
        assert visit(world, path) == 303, path


def test_console_pages_by_visitor(world: World) -> None:
    """What each visitor meets: 200 where they belong; an owner's session on an agent's
    page is refused (403); without the credential a page asks for (an operator's key,
    an agent's session) it sends to the console's sign-in (303). A tenant's key opens
    nothing."""
    owner = world.accounts["owner-A"].token
    agent = world.accounts["support-agent"].token if world.cases else ""
    expected = {  # audience -> (owner, agent, admin key)
        "support": (403, 200, 303),
        "operator": (303, 303, 200),
        "console": (403, 200, 200),
    }
    for path, audience in console_pages(world):
        met = (visit(world, path, tenure_session=owner),
               visit(world, path, tenure_session=agent),
               visit(world, path, tenure_operator=world.keys["admin-key"]))
        want = expected[audience]
        if path == "/console":  # the start page: to sign in, or on to the first page
            want = (303, 303, 303)
        assert met == want, (path, met)
    tenant_key = world.keys["org-O1"]
    for path, _ in console_pages(world):
        assert visit(world, path, tenure_operator=tenant_key) in (303, 403), path
