"""The console in a real browser: chromium against `tenure serve`. An operator signs in
with a key the CLI made and a support agent with their authenticator code; every page
they open loads without a CSP violation or a script error (the `pages` fixture fails
the test on any), the credentials stay in cookies no script can read, and the pages pass
the accessibility scan where axe-core is installed."""

from __future__ import annotations

import time

import httpx
import pytest

from .browser import AXE, axe_check
from .conftest import ServerProcess

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect
Page = sync_api.Page

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
POLICY = 'maker = "Example Phones"\n\n[[rules]]\nid = "embargo"\neffect = "deny_activation"\n' \
         'territories = ["KP"]\n'


def scan(page: Page) -> None:
    """The accessibility scan, where axe-core is installed (`make node-packages`); the
    rest of the test runs either way."""
    if AXE.exists():
        axe_check(page)


def cookie(page: Page, name: str) -> dict[str, object] | None:
    found = [c for c in page.context.cookies() if c["name"] == name]
    return dict(found[0]) if found else None


def test_an_operator_signs_in_with_a_key_and_works_the_policy(
        server: ServerProcess, page: Page) -> None:
    key = server.cli("apikey", "create", "--role", "admin", "--name", "ops").stdout.strip()
    page.goto(f"{server.url}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    scan(page)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Look a device up")
    stored = cookie(page, "tenure_operator")
    assert stored is not None and stored["httpOnly"] and stored["sameSite"] == "Lax"
    assert "tenure_operator" not in page.evaluate("document.cookie")
    assert key not in page.content()

    for link, heading in (("Audit log", "Audit log"), ("Outbox", "Outbox"),
                          ("Territory policy", "Territory policy")):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        scan(page)

    page.get_by_label("Policy (TOML)").fill(POLICY)
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", name="Impact against the active version 0")).to_be_visible()
    page.get_by_label("Reason (kept in the audit trail; needed to apply)").fill("embargo")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is now the active policy")
    scan(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    assert cookie(page, "tenure_operator") is None


def test_a_support_agent_signs_in_with_the_code(server: ServerProcess, page: Page) -> None:
    import pyotp

    email = "agent@example.com"
    made = httpx.post(f"{server.url}/v1/accounts", json={"email": email, "password": PASSWORD})
    assert made.status_code == 201, made.text
    token = httpx.post(f"{server.url}/v1/sessions",
                       json={"email": email, "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    totp = pyotp.TOTP(httpx.post(f"{server.url}/v1/me/totp", headers=auth).json()["secret"])
    confirmed = httpx.post(f"{server.url}/v1/me/totp/confirm", headers=auth,
                           json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.text
    server.cli("support", "add", email)
    server.advance_clock(30)  # a code is accepted once: sign in with the next one

    page.goto(f"{server.url}/console/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in as support agent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal cases")
    expect(page.get_by_text(f"Support agent: {email}")).to_be_visible()
    scan(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
    page.get_by_label("IMEI, device id or loan id").fill("490154203237518")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("status")).to_contain_text("No device matches 490154203237518")
    scan(page)
    session = cookie(page, "tenure_session")
    assert session is not None and session["httpOnly"]
    assert "tenure_session" not in page.evaluate("document.cookie")
