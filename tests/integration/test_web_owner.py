"""The owner portal's pages through the real app on SQLite and PostgreSQL: what a person
does in a browser (open a page, fill a form, follow the answer) and what a script may do
with plain fields, checked against what the store then holds.

A `Browser` keeps its own cookies, announces itself like a browser (`Origin`,
`Sec-Fetch-Site`) and posts the CSRF token of the page it opened; the devices are the
reference agent, activated and bound through the device protocol.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from tenure import protocol
from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import sign_compact
from tenure.domain.model import ClaimKind
from tenure.http.addresses import ClientAddress
from tenure.http.app import create_app
from tenure.store import tables as t
from tenure.web.render import ENV

from .helpers import (
    Account,
    Accounts,
    Device,
    bearer,
    claims,
    dump,
    message_ids,
    new_mail,
    new_reset_token,
    outbox,
    rows,
)

ORIGIN = "http://testserver"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
when = ENV.filters["when"]


class Browser:
    """One person's browser on the app: cookies, the token of the last page, redirects
    not followed (the tests look at each answer)."""

    def __init__(self, runtime: Services) -> None:
        self.client = TestClient(create_app(runtime), follow_redirects=False)
        self.token = ""

    def close(self) -> None:
        self.client.close()

    def open(self, path: str, **headers: str) -> httpx.Response:
        answer = self.client.get(path, headers={"Sec-Fetch-Site": "none", **headers})
        found = CSRF_FIELD.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    def submit(self, path: str, fields: dict[str, str], csrf: bool = True,
               htmx: bool = False) -> httpx.Response:
        headers = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
        if htmx:
            headers["HX-Request"] = "true"
        data = {"csrf": self.token, **fields} if csrf else fields
        return self.client.post(path, data=data, headers=headers)

    def sign_in(self, email: str, password: str, **extra: str) -> httpx.Response:
        self.open("/signin")
        return self.submit("/signin", {"email": email, "password": password, **extra})

    @property
    def session(self) -> str | None:
        return self.client.cookies.get("tenure_session")


@pytest.fixture
def browsers(runtime: Services) -> Iterator[Callable[[], Browser]]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(runtime))
        return made[-1]

    yield make
    for browser in made:
        browser.close()


def text_of(answer: httpx.Response) -> str:
    """The page as a person reads it: markup gone, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", answer.text)).split())


def see_other(answer: httpx.Response, location: str) -> None:
    assert answer.status_code == 303, (answer.status_code, text_of(answer)[:400])
    assert answer.headers["location"] == location


def active(runtime: Services, device_id: str) -> list[str]:
    return sorted(c.kind for c in claims(runtime, device_id, active_only=True))


def owned_device(accounts: Accounts, make_device: Callable[..., Device],
                 account: Any) -> Device:
    device = make_device()
    device.activate().record()
    device.bind(accounts.sign_in(account)).record()
    return device


def signed_in_owner(accounts: Accounts, make_device: Callable[..., Device],
                    browser: Browser) -> tuple[Any, Device]:
    owner = accounts.register()
    device = owned_device(accounts, make_device, owner)
    see_other(browser.sign_in(owner.email, owner.password), "/")
    assert browser.open("/").status_code == 200
    return owner, device


# ---------------------------------------------------------------------- signing up and in


@pytest.mark.parametrize(("peer", "proto", "secure"), [
    ("127.0.0.1", "https", True),  # a trusted proxy that ended TLS
    ("127.0.0.1", "", False),  # the same proxy, plain http from the browser
    ("203.0.113.9", "https", False),  # anyone else cannot claim it
])
def test_cookies_are_secure_when_a_trusted_proxy_ended_the_browsers_tls(
        runtime: Services, accounts: Accounts, peer: str, proto: str, secure: bool) -> None:
    owner = accounts.register()
    app = create_app(runtime)
    app.state.client_address = ClientAddress("127.0.0.1/32")
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    client = TestClient(app, follow_redirects=False, client=(peer, 40000), headers=headers)
    try:
        page = client.get("/signin", headers={"Sec-Fetch-Site": "none"})
        token = CSRF_FIELD.search(page.text)
        assert token is not None
        # the browser spoke https to the proxy, so it sends the `Secure` cookie back; this
        # client, speaking http to the app, would not: send it by hand
        csrf_cookie = page.headers["set-cookie"].split(";")[0]
        answer = client.post("/signin", data={"csrf": token.group(1), "email": owner.email,
                                              "password": owner.password},
                             headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin",
                                      "Cookie": csrf_cookie})
        see_other(answer, "/")
        for cookie in (page.headers["set-cookie"], answer.headers["set-cookie"]):
            flags = [part.strip().lower() for part in cookie.split(";")]
            assert ("secure" in flags) is secure, cookie
            assert "httponly" in flags
    finally:
        client.close()


def test_sign_up_then_sign_in_and_see_the_bound_device(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    browser = browsers()
    assert browser.open("/signup").status_code == 200
    email, password = Accounts.new_email(), Accounts.new_password()
    answer = browser.submit("/signup", {"email": email, "password": password})
    see_other(answer, "/?done=signed-up")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("tenure_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "your account is ready" in text_of(browser.open("/?done=signed-up"))

    see_other(browser.submit("/signout", {}), "/signin?done=signed-out")
    see_other(browser.open("/"), "/signin")  # signed out: the list is gone

    device = owned_device(accounts, make_device, Account(email, password, ""))
    answer = browser.sign_in(email, password)
    see_other(answer, "/")
    assert "samesite=lax" in answer.headers["set-cookie"].lower()
    page = browser.open("/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = text_of(page)
    assert device.device_id in shown and "Tenure Phone 1" in shown
    assert "Activation lock (yours)" in shown
    assert "Possible from" in shown  # bootloader unlock: the waiting period is not over


def test_a_wrong_password_shows_on_the_form_with_401(
        browsers: Callable[[], Browser], accounts: Accounts) -> None:
    owner = accounts.register()
    browser = browsers()
    answer = browser.sign_in(owner.email, "not the password at all")
    assert answer.status_code == 401
    assert "The email or password is not correct." in text_of(answer)
    assert f'value="{owner.email}"' in answer.text  # the address stays in the form
    assert browser.session is None


def test_a_script_signs_in_with_email_and_password_only(
        client: TestClient, accounts: Accounts) -> None:
    owner = accounts.register()
    answer = client.post("/signin", data={"email": owner.email, "password": owner.password},
                         follow_redirects=False)
    see_other(answer, "/")
    assert answer.cookies.get("tenure_session")
    listed = client.get("/")  # the client keeps the cookie, as curl -b/-c would
    assert listed.status_code == 200 and "My devices" in listed.text


def test_a_browser_form_without_its_csrf_token_changes_nothing(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    browser = browsers()
    _, device = signed_in_owner(accounts, make_device, browser)
    before = dump(runtime)
    lost = {"message": "Please call me", "contact": "+49 30 1234567"}
    path = f"/devices/{device.device_id}/lost"
    assert browser.submit(path, lost, csrf=False).status_code == 403
    assert browser.submit(path, {**lost, "csrf": "x" * 43}).status_code == 403
    cross_site = browser.client.post(path, data={"csrf": browser.token, **lost}, headers={
        "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert dump(runtime) == before
    assert active(runtime, device.device_id) == [ClaimKind.OWNER]


# ---------------------------------------------------------------------- device actions


def test_lost_mode_from_the_page_shows_in_the_locks(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    browser = browsers()
    _, device = signed_in_owner(accounts, make_device, browser)
    path = f"/devices/{device.device_id}/lost"

    too_long = browser.submit(path, {"message": "x" * 351, "contact": "+49 30 1234567"})
    assert too_long.status_code == 422
    assert "x" * 351 in too_long.text  # what was typed is kept in the form
    assert active(runtime, device.device_id) == [ClaimKind.OWNER]

    see_other(browser.submit(path, {"message": "Reward if found <3",
                                    "contact": "+49 30 1234567"}), "/?done=lost")
    page = text_of(browser.open("/?done=lost"))
    assert "Lost mode is on" in page
    assert "Lost mode: you reported this device lost." in page
    assert "Reward if found <3" in page and "+49 30 1234567" in page
    assert "Not possible while the device is in lost mode." in page
    assert active(runtime, device.device_id) == sorted([ClaimKind.OWNER, ClaimKind.LOST])
    assert device.checkin().record()["locks"][0]["message"] == "Reward if found <3"

    # htmx: the card comes back in place, the outcome inside it
    card = browser.submit(f"/devices/{device.device_id}/found", {}, htmx=True)
    assert card.status_code == 200
    assert card.text.lstrip().startswith("<section class=\"device card\"")
    assert "Lost mode is lifted." in text_of(card)
    assert active(runtime, device.device_id) == [ClaimKind.OWNER]


def test_ring_and_wipe_are_listed_with_their_state(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    browser = browsers()
    _, device = signed_in_owner(accounts, make_device, browser)
    path = f"/devices/{device.device_id}/commands"
    see_other(browser.submit(path, {"type": "ring"}), "/?done=ring")
    unconfirmed = browser.submit(path, {"type": "wipe"})
    assert unconfirmed.status_code == 422 and "Tick the box" in text_of(unconfirmed)
    card = browser.submit(path, {"type": "wipe", "confirm": "yes"}, htmx=True)
    assert card.status_code == 200 and "erased when it next checks in" in text_of(card)
    kinds = sorted(r.kind for r in rows(runtime, t.device_commands,
                                        t.device_commands.c.device_id == device.device_id))
    assert kinds == ["ring", "wipe"]
    shown = text_of(browser.open("/"))
    assert shown.count("Waiting for the device") == 2


def test_removal_with_a_stale_session_asks_for_the_password_first(
        runtime: Services, clock: FixedClock, browsers: Callable[[], Browser],
        accounts: Accounts, make_device: Callable[..., Device]) -> None:
    browser = browsers()
    owner, device = signed_in_owner(accounts, make_device, browser)
    old_session = browser.session
    assert old_session
    clock.advance(runtime.settings.reauth_seconds + 1)
    browser.open("/")
    path = f"/devices/{device.device_id}/remove"

    stale = browser.submit(path, {"confirm": "yes"})
    assert stale.status_code == 401
    assert "needs a recent sign-in" in text_of(stale)
    assert 'action="/signin"' in stale.text and 'name="reauth"' in stale.text
    assert active(runtime, device.device_id) == [ClaimKind.OWNER]

    # the prompt's form: the account is filled in, the person types the password
    again = browser.submit("/signin", {"email": owner.email, "password": owner.password,
                                       "next": "/", "reauth": "1"})
    see_other(again, "/?done=signed-in-again")
    assert browser.session and browser.session != old_session
    assert browser.client.get("/v1/me/devices", headers=bearer(old_session)
                              ).status_code == 401  # the old session was signed out
    assert "repeat what you were doing" in text_of(browser.open("/?done=signed-in-again"))

    see_other(browser.submit(path, {"confirm": "yes"}), "/?done=removed")
    assert active(runtime, device.device_id) == []
    assert device.device_id not in text_of(browser.open("/"))


def test_after_a_password_reset_the_page_says_when_removal_becomes_possible(
        runtime: Services, clock: FixedClock, browsers: Callable[[], Browser],
        accounts: Accounts, make_device: Callable[..., Device]) -> None:
    browser = browsers()
    owner, device = signed_in_owner(accounts, make_device, browser)
    browser.open("/reset")
    asked = browser.submit("/reset", {"email": owner.email})
    assert asked.status_code == 200 and "is on its way" in text_of(asked)
    token = new_reset_token(runtime, owner.email)
    [mail] = [m for m in outbox(runtime, owner.email) if m.subject == "Reset your password"]
    link = f"{runtime.settings.effective_public_url}/reset/confirm?token={token}"
    assert link in mail.body

    form = browser.open(link.removeprefix(runtime.settings.effective_public_url))
    assert form.status_code == 200 and f'value="{token}"' in form.text
    weak = browser.submit("/reset/confirm", {"token": token, "new_password": "short"})
    assert weak.status_code == 422 and f'value="{token}"' in weak.text
    new_password = Accounts.new_password()
    see_other(browser.submit("/reset/confirm", {"token": token, "new_password": new_password}),
              "/signin?done=password-changed")
    changed_at = clock.now()
    see_other(browser.open("/"), "/signin?next=/")  # the reset ended every session

    see_other(browser.sign_in(owner.email, new_password), "/")
    until = changed_at + runtime.settings.credential_cooldown_seconds
    assert f"Until {when(until)}" in text_of(browser.open("/"))
    refused = browser.submit(f"/devices/{device.device_id}/remove", {"confirm": "yes"})
    assert refused.status_code == 403
    assert f"this action is possible from {when(until)}" in text_of(refused)
    assert active(runtime, device.device_id) == [ClaimKind.OWNER]


def test_another_owners_device_is_not_found_and_unchanged(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    _, theirs = signed_in_owner(accounts, make_device, browsers())
    browser = browsers()
    signed_in_owner(accounts, make_device, browser)
    before = dump(runtime)
    base = f"/devices/{theirs.device_id}"
    for path, fields in ((f"{base}/lost", {"message": "mine now", "contact": "a@b.example"}),
                         (f"{base}/remove", {"confirm": "yes"}),
                         (f"{base}/commands", {"type": "ring"}),
                         (f"{base}/transfers", {"to_email": "buyer@example.com"})):
        answer = browser.submit(path, fields)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not found" in text_of(answer)
    assert dump(runtime) == before


def test_the_bootloader_unlock_token_is_shown_once_the_wait_is_over(
        runtime: Services, clock: FixedClock, browsers: Callable[[], Browser],
        accounts: Accounts, make_device: Callable[..., Device]) -> None:
    browser = browsers()
    owner, device = signed_in_owner(accounts, make_device, browser)

    def bl_token() -> str:
        return sign_compact({"kid": device.device_id, "typ": protocol.BL_TOKEN_TYP},
                            {"sub": device.device_id, "iat": clock.now(),
                             "nonce": b64u_encode(secrets.token_bytes(16))}, device.key)

    path = f"/devices/{device.device_id}/unlock"
    early = browser.submit(path, {"bootloader_token": bl_token()})
    assert early.status_code == 403
    wait = int(runtime.settings.unlock_wait_hours * 3600)
    assert f"Possible from {when(clock.now() + wait)}." in text_of(early)
    assert not rows(runtime, t.unlock_grants)
    clock.advance(wait)
    see_other(browser.sign_in(owner.email, owner.password), "/")
    browser.open("/")
    granted = browser.submit(path, {"bootloader_token": bl_token()})
    assert granted.status_code == 200 and granted.headers["cache-control"] == "no-store"
    token = re.search(r"<code>([A-Za-z0-9_.-]+)</code>", granted.text)
    assert token and token.group(1).count(".") == 2
    assert len(rows(runtime, t.unlock_grants)) == 1


# ---------------------------------------------------------------------- account and transfers


def test_totp_enrolment_shows_a_qr_code_and_a_real_code_turns_it_on(
        runtime: Services, clock: FixedClock, browsers: Callable[[], Browser],
        accounts: Accounts) -> None:
    owner = accounts.register()
    browser = browsers()
    see_other(browser.sign_in(owner.email, owner.password), "/")
    assert "Set up two-step sign-in" in text_of(browser.open("/account"))
    enrol = browser.submit("/account/totp", {})
    assert enrol.status_code == 200 and enrol.headers["cache-control"] == "no-store"
    assert '<img src="data:image/svg+xml' in enrol.text
    assert " style=" not in enrol.text  # the CSP forbids inline styles
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))

    wrong = browser.submit("/account/totp/confirm", {"code": "000000"
                                                     if totp.at(clock.now()) != "000000"
                                                     else "111111"})
    assert wrong.status_code == 422 and "not correct" in text_of(wrong)
    codes = browser.submit("/account/totp/confirm", {"code": totp.at(clock.now())})
    assert codes.status_code == 200 and codes.headers["cache-control"] == "no-store"
    assert len(set(re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", codes.text))) == 10
    [row] = rows(runtime, t.account_totp)
    assert row.enabled_at == clock.now()
    assert "10 unused recovery codes left" in text_of(browser.open("/account"))

    other = browsers()
    needs = other.sign_in(owner.email, owner.password)
    assert needs.status_code == 401 and "enter the code from your authenticator" in text_of(
        needs)
    clock.advance(30)
    see_other(other.sign_in(owner.email, owner.password, totp=totp.at(clock.now())), "/")


def test_a_transfer_started_and_accepted_on_pages(
        runtime: Services, browsers: Callable[[], Browser], accounts: Accounts,
        make_device: Callable[..., Device]) -> None:
    seller = browsers()
    _, device = signed_in_owner(accounts, make_device, seller)
    buyer_account = accounts.register()
    base = f"/devices/{device.device_id}/transfers"
    see_other(seller.submit(base, {"to_email": buyer_account.email}), "/?done=transfer")
    [first] = rows(runtime, t.transfers)
    assert "Transfers in progress" in text_of(seller.open("/"))
    see_other(seller.submit(f"{base}/{first.transfer_id}/cancel", {}),
              "/?done=transfer-cancelled")
    assert rows(runtime, t.transfers)[0].state == "cancelled"

    seen = message_ids(runtime, buyer_account.email)
    see_other(seller.submit(base, {"to_email": buyer_account.email}), "/?done=transfer")
    [pending] = [r for r in rows(runtime, t.transfers) if r.state == "pending"]
    mail = new_mail(runtime, buyer_account.email, seen)
    link = f"{runtime.settings.effective_public_url}/transfers/{pending.transfer_id}"
    assert link in mail.body
    code = re.search(r"^Code:\n(\S{8,})$", mail.body, re.MULTILINE)
    assert code

    buyer = browsers()
    path = f"/transfers/{pending.transfer_id}"
    see_other(buyer.open(path), f"/signin?next=%2Ftransfers%2F{pending.transfer_id}")
    buyer.open(f"/signin?next=%2Ftransfers%2F{pending.transfer_id}")
    see_other(buyer.submit("/signin", {"email": buyer_account.email,
                                       "password": buyer_account.password,
                                       "next": path}), path)
    offer = buyer.open(path)
    assert offer.status_code == 200 and device.device_id in text_of(offer)
    wrong = buyer.submit(path, {"code": "AAAAA-AAAAA"})
    assert wrong.status_code == 422 and "4 attempts left" in text_of(wrong)
    see_other(buyer.submit(path, {"code": code.group(1)}), "/?done=accepted")
    assert device.device_id in text_of(buyer.open("/?done=accepted"))
    [owner_claim] = [c for c in claims(runtime, device.device_id, active_only=True)
                     if c.kind == ClaimKind.OWNER]
    assert owner_claim.holder == buyer_account.account_id
    assert device.device_id not in text_of(seller.open("/"))
