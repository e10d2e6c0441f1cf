"""Signing in with a real browser: chromium against `tenure serve`, keyboard only, with
the session cookie out of reach of scripts and the page right-to-left in Arabic."""

from __future__ import annotations

import httpx
import pytest

from tenure import i18n

from .browser import Pages, axe_check, screenshot, tab_to
from .conftest import ServerProcess

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect
Page = sync_api.Page

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def register(server: ServerProcess, email: str) -> None:
    answer = httpx.post(f"{server.url}/v1/accounts", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text


def test_owner_signs_in_with_the_keyboard_and_sees_their_devices(
        any_server: ServerProcess, page: Page) -> None:
    register(any_server, "alice@example.com")
    page.goto(f"{any_server.url}/signin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    axe_check(page)
    screenshot(page, "signin")

    # The first Tab stop skips the header; the form is the next stop after it.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    tab_to(page, "#f-email")
    page.keyboard.type("alice@example.com")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{any_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My devices")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    axe_check(page)  # docs/screenshots/my-devices.png, with a device: the owner's journey

    session = [c for c in page.context.cookies() if c["name"] == "tenure_session"]
    assert len(session) == 1 and session[0]["value"]
    assert session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
    assert "tenure_session" not in page.evaluate("document.cookie")


def test_a_wrong_password_is_told_on_the_form(server: ServerProcess, page: Page) -> None:
    register(server, "bob@example.com")
    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill("bob@example.com")
    page.get_by_label("Password").fill("not his password")
    page.get_by_label("Password").press("Enter")

    expect(page.get_by_role("alert")).to_have_text("The email or password is not correct.")
    expect(page.get_by_label("Email")).to_have_value("bob@example.com")
    expect(page.get_by_label("Password")).to_have_value("")
    assert page.url.endswith("/signin")
    assert not [c for c in page.context.cookies() if c["name"] == "tenure_session"]
    axe_check(page)


def form_edges(page: Page) -> dict[str, float]:
    """Where the sign-in form sits within the main column, in CSS pixels."""
    return page.evaluate(
        "() => { const f = document.querySelector('main form').getBoundingClientRect(),"
        " h = document.querySelector('main h1').getBoundingClientRect();"
        " return {start: f.left - h.left, end: h.right - f.right}; }")


def test_arabic_reads_right_to_left(server: ServerProcess, pages: Pages, page: Page) -> None:
    arabic = pages.open(locale="ar")
    arabic.goto(f"{server.url}/signin")
    html = arabic.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    expect(arabic.get_by_role("heading", level=1)).to_have_text(i18n.gettext("ar", "Sign in"))
    axe_check(arabic)

    # The form hangs from the right edge of the column in Arabic, from the left in English.
    rtl = form_edges(arabic)
    assert abs(rtl["end"]) < 1 and rtl["start"] > 100, rtl
    page.goto(f"{server.url}/signin")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    ltr = form_edges(page)
    assert abs(ltr["start"]) < 1 and ltr["end"] > 100, ltr
