"""The owner's journey in a real browser against a real `tenure serve`: signing up,
binding a phone with the reference agent, marking it lost and seeing the agent's lock
screen show the words typed in the portal; and a seller handing a phone to a buyer who
accepts it with the mailed code. Every page is scanned by axe-core; the main ones are
written to docs/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tenure import i18n

from .browser import Pages, tab_to
from .conftest import ServerProcess
from .journeys import (
    PASSWORD,
    mailed_code,
    mailed_link,
    provision,
    register,
    seen,
    sign_in,
    sign_up,
    wait_for_mail,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect

pytestmark = pytest.mark.e2e
MESSAGE = "Lost on the 7:40 train to Leeds. Reward if found!"
CONTACT = "+44 20 7946 0958"


def test_an_owner_signs_up_binds_a_phone_and_its_screen_shows_the_lost_message(
        journey_server: ServerProcess, page: Page, tmp_path: Path) -> None:
    server = journey_server
    page.goto(f"{server.url}/")  # a visitor is sent to sign in, and from there to sign up
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    seen(page)
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    seen(page, "signup")
    sign_up(page, server, "olivia@example.com")
    page.wait_for_url(f"{server.url}/?done=signed-up")
    expect(page.get_by_role("status")).to_contain_text("Welcome: your account is ready.")
    expect(page.get_by_text("No device is bound to this account yet.")).to_be_visible()
    seen(page)

    # The phone: made at the factory, activated, then Olivia signs in on it.
    phone = provision(server, tmp_path, "OWNER-PHONE-1")
    assert phone.activate()["status"] == "activated"
    bound = phone.bind(phone.sign_in("olivia@example.com", PASSWORD))
    assert bound["owner"] == {"hint": "o***@e***.com"}

    page.reload()
    card = page.locator("section.device")
    expect(card.get_by_role("heading", level=2)).to_have_text("Tenure Phone 1 OWNER-PHONE-1")
    expect(card.locator(".lock")).to_contain_text("Activation lock (yours)")
    seen(page, "my-devices")

    # Lost mode, with the keyboard: open the form, type, and send it with Enter.
    tab_to(page, "summary:has-text('Mark as lost')")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(card.get_by_label("Message (at most 350 characters)")).to_be_focused()
    page.keyboard.type(MESSAGE)
    page.keyboard.press("Tab")
    page.keyboard.type(CONTACT)
    seen(page, "lost-mode-form")
    page.keyboard.press("Enter")
    expect(card.get_by_role("status")).to_contain_text("Lost mode is on")
    assert page.url == f"{server.url}/?done=signed-up"  # htmx swapped the card in place
    expect(card.locator("q")).to_have_text(MESSAGE)
    card.get_by_role("button", name="Ring the device").click()
    expect(card.get_by_role("status")).to_contain_text("The device will ring")
    expect(card.get_by_role("row", name="Ring")).to_contain_text("Waiting for the device")
    seen(page)

    # The phone checks in: it rings, locks, and shows what Olivia typed.
    record = phone.checkin()
    assert record["status"] == "locked"
    assert any(line.startswith("Ringing: OWNER-PHONE-1") for line in phone.actions)
    screen = phone.lock_screen()
    assert "Status: LOCKED (reported lost" in screen
    assert f"[lost] {MESSAGE}" in screen and f"Contact: {CONTACT}" in screen
    assert "olivia" not in screen  # a finder learns the message, not the account

    page.goto(f"{server.url}/")
    expect(card.get_by_role("row", name="Ring")).to_contain_text("Done by the device")
    expect(card.locator(".lock", has_text="Lost mode: you reported")).to_be_visible()
    expect(card.get_by_text("not yet")).to_have_count(0)  # the last check-in is shown
    seen(page, "owner-lost-mode")

    page.get_by_role("link", name="Account security").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account security")
    expect(page.get_by_text("olivia@example.com")).to_be_visible()
    seen(page, "account")

    # Found: lost mode is lifted, and at its next check-in the phone works again.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My devices").click()
    card.get_by_role("button", name="I found it: lift lost mode").click()
    expect(card.get_by_role("status")).to_contain_text("Lost mode is lifted")
    seen(page)
    assert phone.checkin()["status"] == "activated"
    assert "[lost]" not in phone.lock_screen()
    wait_for_mail(server, "olivia@example.com", "^Your device is in lost mode$", "subject")

    # The same page in German, chosen in the header.
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text(i18n.gettext("de", "My devices"))
    expect(card.locator(".lock")).to_contain_text(i18n.gettext("de", "Activation lock"))
    seen(page, "my-devices-de")


def test_a_buyer_accepts_a_phone_with_the_mailed_code(
        journey_server: ServerProcess, pages: Pages, page: Page, tmp_path: Path) -> None:
    server = journey_server
    phone = provision(server, tmp_path, "SOLD-PHONE-1")
    phone.activate()
    register(server, "sam@example.com")
    phone.bind(phone.sign_in("sam@example.com", PASSWORD))

    sign_in(page, server, "sam@example.com")
    page.get_by_text("Transfer it to a buyer").click()
    page.get_by_label("The buyer's email address").fill("bea@example.org")
    page.get_by_role("button", name="Start the transfer").click()
    expect(page.get_by_role("status")).to_contain_text("The transfer was started")
    expect(page.get_by_text("To b***@e***.org, who can accept it until")).to_be_visible()
    seen(page)

    # Bea has no account yet: the mail's link asks her to sign in, she signs up instead
    # and comes back to the transfer.
    buyer = pages.open()
    buyer.goto(mailed_link(server, "bea@example.org", "/transfers/"))
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Sign in")
    seen(buyer)
    buyer.get_by_role("link", name="Create an account").click()
    sign_up_here(buyer, "bea@example.org")
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Accept a device")
    expect(buyer.get_by_text("device SOLD-PHONE-1")).to_be_visible()
    seen(buyer, "transfer-accept")
    buyer.get_by_label("The code from the mail").fill(
        mailed_code(server, "bea@example.org", "Code"))
    buyer.get_by_role("button", name="Accept the device").click()
    expect(buyer.get_by_role("status")).to_contain_text("The device is now yours")
    expect(buyer.locator("section.device h2")).to_contain_text("SOLD-PHONE-1")
    seen(buyer)

    assert phone.checkin()["owner"] == {"hint": "b***@e***.org"}
    page.reload()
    expect(page.get_by_text("No device is bound to this account yet.")).to_be_visible()


def sign_up_here(page: Page, email: str) -> None:
    """The sign-up form the page shows (it keeps where to go next)."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    seen(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")


def test_a_style_put_on_a_field_by_the_browser_does_not_break_the_csp_when_a_card_updates(
        journey_server: ServerProcess, pages: Pages, page: Page, tmp_path: Path) -> None:
    """Password managers and other extensions (and Playwright's screenshots) leave a
    `style` attribute on form fields. htmx used to copy it onto the card it swapped in,
    and the CSP, which allows no inline style, refused each copy."""
    server = journey_server
    phone = provision(server, tmp_path, "STYLED-PHONE-1")
    phone.activate()
    register(server, "stella@example.com")
    phone.bind(phone.sign_in("stella@example.com", PASSWORD))
    sign_in(page, server, "stella@example.com")
    page.get_by_text("Mark as lost").click()
    page.evaluate("() => document.querySelectorAll('.device input, .device textarea')"
                  ".forEach(e => { e.style.caretColor = 'transparent'; })")
    page.get_by_label("Message (at most 350 characters)").fill("Please call me")
    page.get_by_label("Contact: a phone number or an email address").fill("+49 30 1234567")
    page.get_by_role("button", name="Save and lock").click()
    expect(page.locator(".device").get_by_role("status")).to_contain_text("Lost mode is on")
    assert pages.console(page).errors() == []
