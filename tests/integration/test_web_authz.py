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
# "support" (a support agent signed in with a second factor), "operator" (an admin key)
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
}


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
