"""The public pages through the real app on SQLite and PostgreSQL, as a browser uses
them: the status check in words with its signed statement (which verifies against
/v1/keys) and its download, the message relay from the form to the owner's mailbox
through the page the confirmation mail links to, and an appeal opened with an
uploaded PNG and followed on its page — by its applicant only. Forms from a browser
without their CSRF token change nothing."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from tenure import protocol
from tenure.bootstrap import Services, bootstrap
from tenure.config import Settings
from tenure.crypto.jws import parse_compact
from tenure.crypto.keys import verifying_key_from_jwk
from tenure.domain.masking import mask_email
from tenure.http.app import create_app
from tenure.store import tables as t

from .case_helpers import PDF, PNG, PURCHASE
from .helpers import dump, media_type, message_ids, new_mail, outbox, rows
from .test_unlock_api import Owner, Phone, Server

UNKNOWN_IMEI = "490154203237518"
SENDER = "finder@example.org"
BROWSER = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def statement_of(page: httpx.Response) -> str:
    found = re.search(r'<pre id="statement" class="jws">([^<]+)</pre>', page.text)
    assert found, page.text[:3000]
    return html.unescape(found.group(1)).strip()


def main_text(page: httpx.Response) -> str:
    """What the page says in its <main>, tags stripped."""
    found = re.search(r"<main[^>]*>(.*)</main>", page.text, re.DOTALL)
    assert found
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def verified_against_keys(client: TestClient, statement: str) -> dict[str, Any]:
    """The statement checked as a buyer's program does: the key of its kid from the
    published key set, its typ, its signature."""
    jws = parse_compact(statement)
    [jwk] = [k for k in client.get("/v1/keys").json()["keys"] if k["kid"] == jws.header["kid"]]
    assert jws.has_type(protocol.STATUS_TYP)
    assert jws.verify_with(verifying_key_from_jwk(jwk))
    return jws.payload()


def signed_in(server: Server, owner: Owner) -> TestClient:
    """The app's client with `owner`'s session in its cookie, as after /signin."""
    server.client.cookies.set("tenure_session", server.sign_in(owner))
    return server.client


def locked_phone(server: Server) -> tuple[Owner, Phone]:
    owner = server.register()
    return owner, server.owned_phone(owner)


# -- /status ---------------------------------------------------------------------------------

def test_an_unknown_imei_gets_a_clear_page_and_404(server: Server) -> None:
    empty = server.client.get("/status")
    assert empty.status_code == 200 and 'name="device"' in empty.text
    assert "content-security-policy" in empty.headers

    unknown = server.client.get("/status", params={"imei": UNKNOWN_IMEI})
    assert unknown.status_code == 404
    words = main_text(unknown)
    assert "This device is not known here" in words
    assert "Locked" not in words and 'id="statement"' not in unknown.text

    wrong = server.client.get("/status", params={"device": "not a device!"})
    assert wrong.status_code == 422
    assert "neither an IMEI" in main_text(wrong)


def test_a_locked_device_says_so_and_its_statement_verifies_and_downloads(
        server: Server) -> None:
    owner, phone = locked_phone(server)
    imei = phone.agent.identity.imeis[0]
    spaced = f"{imei[:2]} {imei[2:8]} {imei[8:14]} {imei[14]}"  # as printed on a box
    answer = server.client.get("/status", params={"device": spaced, "nonce": "buyer-1"})
    assert answer.status_code == 200, answer.text
    assert "no-store" in answer.headers["cache-control"]
    words = main_text(answer)
    assert "Locked" in words and "Linked to an owner's account (activation lock)" in words
    assert "Reported lost" not in words and "Not locked" not in words
    # the ways out, and nothing about who holds it
    assert f'href="/messages?device_id={phone.device_id}"' in answer.text
    assert f'href="/appeal?device_id={phone.device_id}"' in answer.text
    assert owner.email not in answer.text and mask_email(owner.email) not in answer.text

    statement = statement_of(answer)
    payload = verified_against_keys(server.client, statement)
    assert payload["sub"] == phone.device_id and payload["imei"] == imei
    assert payload["activation_lock"] is True and payload["nonce"] == "buyer-1"
    assert payload["exp"] == payload["iat"] + 600

    link = re.search(r'href="(/status/statement\?[^"]+)"', answer.text)
    assert link, answer.text
    download = server.client.get(html.unescape(link.group(1)))
    assert download.status_code == 200
    assert media_type(download) == protocol.JOSE
    assert download.text == statement
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.jws"')

    # only the server's own statements are handed out
    head, body, signature = statement.split(".")
    forged = f"{head}.{body}.{signature[::-1]}"
    refused = server.client.get("/status/statement", params={"statement": forged})
    assert refused.status_code == 422 and forged not in refused.text


def test_a_free_device_is_not_locked(server: Server) -> None:
    phone = server.phone()
    answer = server.client.get(f"/status?device_id={phone.device_id}")
    assert answer.status_code == 200
    words = main_text(answer)
    assert "Not locked" in words and "Locked" not in words.replace("Not locked", "")
    assert verified_against_keys(server.client, statement_of(answer))["activation_lock"] is False
    assert "/appeal?" not in answer.text  # nothing to appeal


def test_the_status_page_keeps_the_services_throttle(settings: Settings,
                                                     runtime: Services) -> None:
    limited = bootstrap(dataclasses.replace(settings, status_rate=2), clock=runtime.clock)
    client = TestClient(create_app(limited))
    try:
        for _ in range(2):
            assert client.get("/status", params={"imei": UNKNOWN_IMEI}).status_code == 404
        throttled = client.get("/status", params={"imei": UNKNOWN_IMEI})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "Too many status lookups" in main_text(throttled)
    finally:
        client.close()
        limited.close()


# -- /messages -------------------------------------------------------------------------------

def test_a_message_goes_through_the_pages_to_the_owner(server: Server) -> None:
    owner, phone = locked_phone(server)
    imei = phone.agent.identity.imeis[0]
    form = server.client.get("/messages", params={"imei": imei})
    assert form.status_code == 200 and f'value="{imei}"' in form.text
    sent = server.client.post("/messages", headers=BROWSER, data={
        "csrf": csrf_of(form), "device": imei, "from": SENDER,
        "message": "Found it in a taxi; call me at +1 555 0199."})
    assert sent.status_code == 200, sent.text
    assert "Check your mail" in main_text(sent)

    [mail] = outbox(server.runtime, SENDER)
    link = re.search(r"^(http\S+/messages/confirm\?token=\S+)$", mail.body, re.MULTILINE)
    assert link, mail.body
    target = urlsplit(link.group(1))
    landing = server.client.get(f"{target.path}?{target.query}")
    assert landing.status_code == 200
    assert 'action="/messages/confirm"' in landing.text and 'method="post"' in landing.text
    # opening the link (as a mail scanner would) sends nothing
    assert not any("taxi" in m.body for m in outbox(server.runtime, owner.email))

    carried = re.search(r'<input type="hidden" name="token" value="([^"]+)">', landing.text)
    assert carried and carried.group(1) == target.query.removeprefix("token=")
    seen = message_ids(server.runtime, owner.email)
    confirmed = server.client.post("/messages/confirm", headers=BROWSER, data={
        "csrf": csrf_of(landing), "token": carried.group(1)})
    assert confirmed.status_code == 200, confirmed.text
    assert "Your message was passed on" in main_text(confirmed)
    delivered = new_mail(server.runtime, owner.email, seen)
    assert "Found it in a taxi" in delivered.body and SENDER not in delivered.body

    again = server.client.post("/messages/confirm", headers=BROWSER, data={
        "csrf": csrf_of(landing), "token": target.query.removeprefix("token=")})
    assert again.status_code == 400
    assert "unknown, used or expired" in main_text(again)
    assert sum("taxi" in m.body for m in outbox(server.runtime, owner.email)) == 1


def test_the_relay_form_shows_the_services_refusals(server: Server) -> None:
    form = server.client.get("/messages")
    unknown = server.client.post("/messages", headers=BROWSER, data={
        "csrf": csrf_of(form), "device": UNKNOWN_IMEI, "from": SENDER, "message": "hello"})
    assert unknown.status_code == 404
    assert "No device with this IMEI" in main_text(unknown)
    assert f'value="{SENDER}"' in unknown.text  # what was typed is kept
    assert outbox(server.runtime, SENDER) == []


# -- /appeal ---------------------------------------------------------------------------------

def appeal_fields(phone: Phone, csrf: str, **changes: str) -> dict[str, str]:
    fields = {"csrf": csrf, "device": phone.agent.identity.imeis[0],
              "kind": "activation-lock",
              "statement": "Bought second hand; it asks for the old owner's account.",
              "date": PURCHASE["date"], "seller": PURCHASE["seller"],
              "price": PURCHASE["price"], "currency": PURCHASE["currency"].lower(),
              "appeal_token": phone.agent.appeal_token()}
    fields.update(changes)
    return fields


def open_by_page(server: Server, applicant: Owner, phone: Phone) -> str:
    client = signed_in(server, applicant)
    form = client.get("/appeal", params={"device_id": phone.device_id})
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    answer = client.post("/appeal", headers=BROWSER, data=appeal_fields(phone, csrf_of(form)),
                         files={"file": ("receipt.png", PNG, "image/png")},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/appeal/([0-9a-f]{32})\?note=opened-file-added",
                         answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def test_an_appeal_with_a_png_opens_a_case_its_page_shows(server: Server) -> None:
    _, phone = locked_phone(server)
    applicant = server.register()
    case_id = open_by_page(server, applicant, phone)

    [case] = rows(server.runtime, t.cases, t.cases.c.case_id == case_id)
    assert case.applicant_id == applicant.account_id and case.kind == "activation-lock"
    assert json.loads(case.purchase)["currency"] == "EUR"  # typed "eur"
    [evidence] = rows(server.runtime, t.case_evidence, t.case_evidence.c.case_id == case_id)
    assert evidence.content_type == "image/png" and evidence.size == len(PNG)

    shown = server.client.get(f"/appeal/{case_id}?note=opened-file-added")
    assert shown.status_code == 200
    words = main_text(shown)
    assert case_id in words and "Open: waiting for two support agents" in words
    assert "your file was added" in words
    assert 'action="/appeal/' + case_id + '/evidence"' in shown.text

    more = server.client.post(f"/appeal/{case_id}/evidence", headers=BROWSER,
                              data={"csrf": csrf_of(shown)},
                              files={"file": ("bank.pdf", PDF, "application/pdf")},
                              follow_redirects=False)
    assert more.status_code == 303
    assert more.headers["location"] == f"/appeal/{case_id}?note=evidence-added"
    not_a_receipt = server.client.post(f"/appeal/{case_id}/evidence", headers=BROWSER,
                                       data={"csrf": csrf_of(shown)},
                                       files={"file": ("x.html", b"<script>", "text/html")})
    assert not_a_receipt.status_code == 415
    assert "PDF, JPEG or PNG" in main_text(not_a_receipt) and case_id in not_a_receipt.text
    assert len(rows(server.runtime, t.case_evidence,
                    t.case_evidence.c.case_id == case_id)) == 2


def test_a_refused_appeal_shows_why_and_keeps_the_form(server: Server) -> None:
    _, phone = locked_phone(server)
    client = signed_in(server, server.register())
    form = client.get("/appeal")
    before = dump(server.runtime)
    stale = phone.agent.appeal_token(now=server.clock.now() - 2 * 86400)
    answer = client.post("/appeal", headers=BROWSER,
                         data=appeal_fields(phone, csrf_of(form), appeal_token=stale),
                         files={"file": ("receipt.png", PNG, "image/png")})
    assert answer.status_code == 400
    assert "older than 24 hours" in main_text(answer)
    assert "Second Hand Phones Ltd" in answer.text
    assert dump(server.runtime) == before


def test_only_the_applicant_sees_the_case(server: Server) -> None:
    _, phone = locked_phone(server)
    case_id = open_by_page(server, server.register(), phone)
    statement = "asks for the old owner"

    signed_in(server, server.register())  # someone else, signed in
    other = server.client.get(f"/appeal/{case_id}")
    assert other.status_code == 404
    assert case_id not in other.text and statement not in other.text
    assert "Open: waiting" not in other.text
    before = dump(server.runtime)
    upload = server.client.post(f"/appeal/{case_id}/evidence", headers=BROWSER,
                                data={"csrf": csrf_of(server.client.get("/appeal"))},
                                files={"file": ("r.png", PNG, "image/png")})
    assert upload.status_code == 404 and case_id not in upload.text
    assert dump(server.runtime) == before
    assert server.client.get(f"/appeal/{'0' * 32}").status_code == 404

    server.client.cookies.delete("tenure_session")
    anonymous = server.client.get(f"/appeal/{case_id}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/signin?next=/appeal/{case_id}"
    intro = server.client.get("/appeal")
    assert intro.status_code == 200 and 'href="/signin?next=/appeal"' in intro.text
    assert 'action="/appeal" enctype' not in intro.text
    # from a status page's link, signing in or up comes back to the form for that device
    linked = server.client.get("/appeal?device_id=PHONE%201")
    assert 'href="/signin?next=/appeal%3Fdevice%3DPHONE%2B1"' in linked.text
    assert 'href="/signup?next=/appeal%3Fdevice%3DPHONE%2B1"' in linked.text


# -- CSRF ------------------------------------------------------------------------------------

def test_browser_forms_without_their_token_change_nothing(server: Server) -> None:
    _, phone = locked_phone(server)
    imei = phone.agent.identity.imeis[0]
    client = signed_in(server, server.register())
    client.get("/status")  # the browser has its CSRF cookie
    before = dump(server.runtime)

    relay = client.post("/messages", headers=BROWSER,
                        data={"device": imei, "from": SENDER, "message": "hello"})
    assert relay.status_code == 403
    confirm = client.post("/messages/confirm", headers=BROWSER, data={"token": "x" * 43})
    assert confirm.status_code == 403
    fields = appeal_fields(phone, "")
    del fields["csrf"]
    appeal = client.post("/appeal", headers=BROWSER, data=fields,
                         files={"file": ("receipt.png", PNG, "image/png")})
    assert appeal.status_code == 403
    forged = client.post("/appeal", headers={"Origin": "https://evil.example",
                                             "Sec-Fetch-Site": "cross-site"},
                         data=appeal_fields(phone, "x" * 43),
                         files={"file": ("receipt.png", PNG, "image/png")})
    assert forged.status_code == 403
    assert dump(server.runtime) == before
    assert outbox(server.runtime, SENDER) == []
