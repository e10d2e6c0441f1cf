"""An operator's journey in a real browser against a real `tenure serve`: signing in to
the console with an API key, previewing a territory policy's impact on a phone in use
in Iran, applying it, seeing the reference agent lock with the policy's words, finding
the change in the audit log, and withdrawing it again. Every page is scanned by
axe-core; the main ones are written to docs/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import ServerProcess
from .journeys import PASSWORD, provision, register, seen

if TYPE_CHECKING:
    from playwright.sync_api import Page

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[dev]'")
expect = sync_api.expect

pytestmark = pytest.mark.e2e
# The mail server is down: what the outbox page is for.
SERVER_ENV = {"TENURE_SMTP_URL": "smtp://127.0.0.1:9"}
IN_IRAN = {"sim_mcc": ["432"], "gnss": {"country": "IR"}}
POLICY = """maker = "Example Phones"
contact = "Example Phones compliance, +49 30 555 0100"

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR"]
grace_hours = 0
"""


def test_an_operator_previews_applies_and_withdraws_a_territory_policy(
        journey_server: ServerProcess, page: Page, tmp_path: Path) -> None:
    server = journey_server
    phone = provision(server, tmp_path, "TRAVEL-PHONE-1")
    assert phone.activate(signals=IN_IRAN)["status"] == "activated"
    register(server, "tara@example.com")
    phone.bind(phone.sign_in("tara@example.com", PASSWORD))  # mailed: to the outbox
    assert phone.checkin(IN_IRAN)["status"] == "activated"  # in use in Iran, no policy yet
    imei = phone.identity.imeis[0]
    key = server.cli("apikey", "create", "--role", "admin", "--name", "console: olga"
                     ).stdout.strip()

    page.goto(f"{server.url}/console/signin")
    seen(page)
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Look a device up")
    expect(page.get_by_text("Operator key: console: olga")).to_be_visible()
    seen(page)
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="Territory policy").click()
    expect(page.get_by_role("heading", level=2, name="No policy has been applied yet")
           ).to_be_visible()
    seen(page)
    page.get_by_label("Policy (TOML)").fill(POLICY)
    page.get_by_role("button", name="Dry run").click()
    impact = page.get_by_role("region", name="Impact against the active version 0")
    cells = impact.get_by_role("row", name="Tenure Phone 1").get_by_role("cell")
    expect(cells).to_have_text(["IR", "1", "1", "0"])  # refused, locked in use, released
    expect(page.get_by_label("Policy (TOML)")).to_have_value(POLICY)  # kept for applying
    seen(page, "console-policy")
    page.get_by_label("Reason (kept in the audit trail; needed to apply)").fill(
        "Export rules 2026-11")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is now the active policy")
    expect(page.get_by_role("heading", level=2, name="Active: version 1")).to_be_visible()
    seen(page)

    # The phone's next check-in in Iran locks it, and its screen says why and whom to ask.
    assert phone.checkin(IN_IRAN)["status"] == "locked"
    screen = phone.lock_screen()
    assert "Status: LOCKED (territory policy of the manufacturer)" in screen
    assert "Territory: IR (rule sanctions)" in screen
    assert "Example Phones compliance, +49 30 555 0100" in screen

    nav.get_by_role("link", name="Devices").click()
    page.get_by_label("IMEI, device id or loan id").fill(imei)
    page.get_by_label("IMEI, device id or loan id").press("Enter")
    expect(page.get_by_role("heading", level=2, name="Tenure Phone 1 TRAVEL-PHONE-1")
           ).to_be_visible()
    claims = page.get_by_role("region", name="Claims")
    expect(claims.get_by_role("row", name="territory")).to_contain_text("held")
    expect(claims.get_by_role("row", name="territory")).to_contain_text("policy:sanctions")
    seen(page, "console-devices")

    nav.get_by_role("link", name="Audit log").click()  # newest first, every stream
    expect(page.get_by_role("row", name="policy.applied")).to_contain_text(
        "Export rules 2026-11")
    seen(page)
    page.get_by_label("Stream or device").fill(imei)  # the phone's own trail
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The hash chain of device:TRAVEL-PHONE-1 is intact")
    expect(page.get_by_role("row", name="territory.locked")).to_contain_text(
        '"rule":"sanctions"')
    seen(page, "console-audit")

    # The mail server was down: the notice to the phone's owner waits, with the error.
    server.cli("mail", "dispatch")
    nav.get_by_role("link", name="Outbox").click()
    failed = page.get_by_role("region", name="Mail").get_by_role("row", name="linked to")
    expect(failed).to_contain_text("failed")
    expect(failed).to_contain_text("ConnectionRefusedError")
    assert "tara@example.com" not in page.content()  # subjects only, never addresses
    seen(page, "console-outbox")
    failed.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("The message is back in the queue")
    seen(page)

    # A licence arrives: the operator withdraws the policy and the phone is released.
    nav.get_by_role("link", name="Territory policy").click()
    page.get_by_role("region", name="Withdraw the policy").get_by_label("Reason").fill(
        "Licence granted")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("status")).to_contain_text("Version 2 is now the active policy")
    seen(page)
    assert phone.checkin(IN_IRAN)["status"] == "activated"
    assert "LOCKED" not in phone.lock_screen()
