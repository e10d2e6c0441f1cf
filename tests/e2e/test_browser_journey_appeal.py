"""A buyer's and support's journeys in a real browser against a real `tenure serve`.

A buyer checks a phone that was sold without being removed from its seller's account,
writes to its holder through the relay and appeals with the appeal token its lock screen
shows and a photo of the receipt. Two support agents sign in to the console with their
second factor, look at the evidence and approve; when the objection window has passed,
the phone sets up. Every page is scanned by axe-core; the main ones are written to
docs/screenshots/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tenure import i18n
from tenure.agent import DeviceAgent

from .browser import Pages, tab_to
from .conftest import ServerProcess
from .journeys import (
    PASSWORD,
    api_token,
    mailed_link,
    receipt_png,
    register,
    seen,
    server_now,
    sold_without_removal,
    support_agents,
    wait_for_mail,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect

pytestmark = pytest.mark.e2e
DAY = 86400
STATEMENT = "Bought it at a flea market on 1 October; after a reset it asks for an account " \
            "that is not mine."


def spaced(imei: str) -> str:
    """An IMEI as a box prints it."""
    return f"{imei[:2]} {imei[2:8]} {imei[8:14]} {imei[14]}"


def test_a_buyer_checks_a_phone_writes_to_its_holder_and_appeals(
        journey_server: ServerProcess, pages: Pages, page: Page, tmp_path: Path) -> None:
    server = journey_server
    phone = sold_without_removal(server, tmp_path, "BOUGHT-PHONE-1", "sella@example.com")
    imei = phone.identity.imeis[0]

    # The check, with the keyboard, before paying.
    page.goto(f"{server.url}/status")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a device")
    seen(page)
    tab_to(page, "#f-device")
    page.keyboard.type(spaced(imei))
    page.keyboard.press("Enter")
    result = page.locator("#result")
    expect(result.get_by_role("heading", level=2)).to_contain_text(imei)
    expect(result.locator(".badge")).to_have_text("Locked")
    expect(result).to_contain_text("Linked to an owner's account (activation lock).")
    assert "sella" not in page.content()  # the kind of holder, never who
    seen(page, "status-locked")
    checked = page.url  # a result is a link: the buyer comes back to it later

    arabic = pages.open(locale="ar")
    arabic.goto(page.url)
    expect(arabic.locator("html")).to_have_attribute("dir", "rtl")
    expect(arabic.get_by_role("heading", level=1)).to_have_text(
        i18n.gettext("ar", "Check a device"))
    expect(arabic.locator("#result .badge")).to_have_text(i18n.gettext("ar", "Locked"))
    typed = arabic.locator("#f-device")  # the IMEI as typed reads left to right, not
    expect(typed).to_have_value(spaced(imei))  # its groups in reverse order
    expect(typed).to_have_css("direction", "ltr")
    seen(arabic, "status-locked-ar")

    # Writing to whoever holds it: the relay asks the buyer to confirm by mail first.
    result.get_by_role("link", name="Write to whoever holds this device").click()
    expect(page.get_by_label("The device's IMEI or serial number")).to_have_value(
        "BOUGHT-PHONE-1")
    page.get_by_label("Your email address").fill("bo@example.net")
    page.get_by_label("Your message").fill("I bought your old phone at the flea market. "
                                           "Could you remove it from your account?")
    seen(page, "message")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
    seen(page)
    page.goto(mailed_link(server, "bo@example.net", "/messages/confirm"))
    seen(page)
    page.get_by_role("button", name="Send my message").click()
    expect(page.get_by_role("status")).to_have_text("Your message was passed on.")
    seen(page)
    relayed = wait_for_mail(server, "sella@example.com", "Could you remove it from your account")
    assert "bo@example.net" not in relayed.string  # neither learns the other's address

    # No answer: the buyer appeals, from the result page, and makes an account on the way.
    page.goto(checked)
    page.locator("#result").get_by_role("link", name="Appeal a lock").click()
    expect(page.get_by_role("heading", name="Sign in first")).to_be_visible()
    seen(page)
    page.get_by_role("main").get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    seen(page)
    page.get_by_label("Email").fill("bo@example.net")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal a lock")
    device = page.get_by_label("The device's IMEI or serial number")
    expect(device).to_have_value("BOUGHT-PHONE-1")  # brought back to the device
    expect(page.get_by_label("A previous owner's activation lock")).to_be_checked()
    page.get_by_label("What happened").fill(STATEMENT)
    page.get_by_label("Date of purchase").fill("2025-10-01")
    page.get_by_label("Seller").fill("Market stall 12")
    page.get_by_label("Price paid").fill("180,00")
    page.get_by_label("Currency").fill("eur")
    page.get_by_label("Appeal token").fill(phone.appeal_token())  # read off the lock screen
    page.get_by_label("Proof of purchase").set_input_files(
        {"name": "receipt.png", "mimeType": "image/png", "buffer": receipt_png(pages, imei)})
    seen(page, "appeal")
    page.get_by_role("button", name="Open the case").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your appeal case")
    expect(page.get_by_role("status")).to_have_text(
        "Your case is open and your file was added.")
    expect(page.locator("dl.facts")).to_contain_text("Open: waiting for two support agents")
    case_id = page.locator("dl.facts code").inner_text()
    seen(page, "appeal-case")
    wait_for_mail(server, "bo@example.net", case_id)  # the way back to the case


def open_case(server: ServerProcess, pages: Pages, tmp_path: Path) -> tuple[str, DeviceAgent]:
    """A case about a phone sold without removal, opened over the API with a photo of
    the receipt, as the buyer's journey above opens one through the page."""
    phone = sold_without_removal(server, tmp_path, "APPEALED-PHONE-1", "sid@example.com")
    register(server, "bree@example.net")
    buyer = {"Authorization": f"Bearer {api_token(server, 'bree@example.net')}"}
    opened = httpx.post(f"{server.url}/v1/cases", headers=buyer, json={
        "imei": phone.identity.imeis[0], "kind": "activation-lock",
        "purchase": {"date": "2025-10-01", "seller": "Market stall 12", "price": "180.00",
                     "currency": "EUR"},
        "statement": STATEMENT, "appeal_token": phone.appeal_token()})
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["case_id"])
    added = httpx.post(f"{server.url}/v1/cases/{case_id}/evidence", headers=buyer, files={
        "file": ("receipt.png", receipt_png(pages, phone.identity.imeis[0]), "image/png")})
    assert added.status_code == 201, added.text
    return case_id, phone


def console_sign_in(page: Page, server: ServerProcess, email: str, code: str) -> None:
    page.goto(f"{server.url}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_label("Authenticator code").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal cases")


def test_two_support_agents_approve_and_the_phone_sets_up_after_the_objection_window(
        journey_server: ServerProcess, pages: Pages, page: Page, tmp_path: Path) -> None:
    server = journey_server
    case_id, phone = open_case(server, pages, tmp_path)
    ada, ben = support_agents(server, "ada@support.example", "ben@support.example")
    server.advance_clock(30)  # the codes of their set-up are used: sign in with the next

    page.goto(f"{server.url}/console")
    seen(page, "console-signin")
    console_sign_in(page, server, "ada@support.example", ada.at(server_now(server)))
    expect(page.get_by_text("Support agent: ada@support.example")).to_be_visible()
    seen(page, "console-cases")
    page.get_by_role("link", name=case_id).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case_id}")
    expect(page.locator("blockquote.statement")).to_have_text(STATEMENT)
    receipt = page.get_by_role("img", name="Evidence file 1, uploaded")
    expect(receipt).to_be_visible()
    assert receipt.evaluate("img => img.complete && img.naturalWidth > 300")  # shown, not broken
    expect(page.get_by_text("No agent has decided on this case yet.")).to_be_visible()
    seen(page, "console-case")
    page.get_by_label("Your reasoning (the other agent reads it)").fill(
        "The receipt names the IMEI; the seller's stall matches the statement.")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("Your approval is recorded.")
    expect(page.get_by_text("1 approval in this round so far.")).to_be_visible()
    seen(page)

    second = pages.open()
    console_sign_in(second, server, "ben@support.example", ben.at(server_now(server)))
    second.get_by_role("link", name=case_id).click()
    decisions = second.get_by_role("region", name="Decisions so far")
    expect(decisions.get_by_role("row", name="approve")).to_contain_text(
        "The receipt names the IMEI")  # Ben reads Ada's reasoning before deciding
    second.get_by_role("button", name="Approve").click()
    expect(second.get_by_role("status")).to_have_text("Your approval is recorded.")
    expect(second.locator("#c-facts .badge")).to_have_text("objection-window")
    expect(second.get_by_role("button", name="Approve")).to_have_count(0)
    seen(second)
    told = wait_for_mail(server, "sid@example.com", rf"cases/{case_id}/objection").string
    assert "Unless you object before" in told  # the seller is told and may object

    server.advance_clock(14 * DAY + 60)  # the seller does not object
    buyer = {"Authorization": f"Bearer {api_token(server, 'bree@example.net')}"}
    deadline = time.monotonic() + 20
    while httpx.get(f"{server.url}/v1/cases/{case_id}", headers=buyer).json()["state"] \
            != "granted":
        assert time.monotonic() < deadline, "the case was never granted"
        time.sleep(0.2)
    record = phone.activate()
    assert record["status"] == "activated" and record["locks"] == []
    assert "LOCKED" not in phone.lock_screen()
