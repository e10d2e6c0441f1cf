"""The owner portal in a real browser: chromium against `tenure serve`, with htmx under
the strict CSP — a device's card updates in place — and the pages' accessibility
scanned by axe-core."""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import axe_check, screenshot
from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, provision, register

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect
Page = sync_api.Page

pytestmark = pytest.mark.e2e


def test_an_owner_marks_a_device_lost_in_place_and_sets_up_two_step_sign_in(
        server: ServerProcess, page: Page, tmp_path: Path) -> None:
    phone = provision(server, tmp_path, "PHONE-W1")
    phone.activate()
    register(server, "carol@example.com")
    phone.bind(phone.sign_in("carol@example.com", PASSWORD))

    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{server.url}/")
    expect(page.get_by_role("heading", level=2)).to_contain_text("PHONE-W1")
    expect(page.locator(".device .lock")).to_contain_text("Activation lock (yours)")
    axe_check(page)

    page.get_by_text("Mark as lost").click()
    page.get_by_label("Message (at most 350 characters)").fill("Reward if found")
    page.get_by_label("Contact: a phone number or an email address").fill("+49 30 1234567")
    page.get_by_role("button", name="Save and lock").click()
    card = page.locator(".device")
    expect(card.get_by_role("status")).to_contain_text("Lost mode is on")
    assert page.url == f"{server.url}/"  # htmx swapped the card: no page was loaded
    expect(card.locator("q")).to_have_text("Reward if found")
    expect(card.get_by_role("button", name="I found it: lift lost mode")).to_be_visible()
    axe_check(page)  # docs/screenshots/owner-lost-mode.png: the owner's journey

    page.get_by_role("link", name="Account security").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account security")
    axe_check(page)
    page.get_by_role("button", name="Set up two-step sign-in").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    axe_check(page)
    screenshot(page, "totp-enrol")
