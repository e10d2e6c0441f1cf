"""Languages through the real app, on both databases: a device's `locale` chooses the
language of its lock screen, a territory lock falls back to the territory's language,
and mail is written in the language an account signed up in.

The catalogs are small temporary .po files (tests/catalogs.py), compiled by the same
code as the shipped ones: what a person reads really comes from a catalog here."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.domain.decide import OWNER_LOCK_MESSAGE
from tenure.domain.policy_text import DEFAULT_MESSAGE, IN_USE_MESSAGE
from tenure.services.notices import RESET_BODY, RESET_SUBJECT
from tenure.store import tables as t
from tests.catalogs import WriteCatalog

from .helpers import Accounts, Device, outbox, rows

ACTIVATION, CHECKIN = "/v1/device/activation", "/v1/device/checkin"
OWNER_DE = "Dieses Gerät gehört einem Konto. Melden Sie sich mit diesem Konto an."
RESET_SUBJECT_FR = "Réinitialisez votre mot de passe"
RESET_BODY_FR = ("Quelqu'un a demandé à réinitialiser votre mot de passe.\n"
                 "Jeton (valable %(minutes)s minutes) :\n\n    %(token)s\n")

POLICY = """
maker = "Example Phones"
contact = "your retailer"

[[rules]]
id = "iran"
effect = "deny_activation"
territories = ["IR"]
message = "Not in {territory}: ask {contact}."
messages.fa = "در {territory} نه: از {contact} بپرسید."
messages.de = "Nicht in {territory}: fragen Sie {contact}."

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["KP"]
grace_hours = 0
"""
IN_IRAN = {"gnss": {"country": "IR"}}


def bound(device: Device, accounts: Accounts, clock: FixedClock) -> None:
    """A bound device after a factory reset: its next activation shows the owner lock."""
    owner = accounts.new()
    device.activate(owner.token).record()
    device.bind(owner.token).record()
    device.factory_reset()
    clock.advance(10)


def activation(device: Device, **payload: Any) -> dict[str, Any]:
    return device.post(ACTIVATION, {"signals": {"sim_mcc": ["262"]}, **payload}).record()


def test_a_device_reading_german_gets_its_lock_screen_from_the_german_catalog(
        device: Device, accounts: Accounts, clock: FixedClock,
        catalogs: WriteCatalog) -> None:
    catalogs("de", {OWNER_LOCK_MESSAGE: OWNER_DE})
    bound(device, accounts, clock)
    (lock,) = activation(device, locale="de-AT")["locks"]
    assert (lock["kind"], lock["message"]) == ("owner", OWNER_DE)
    assert lock["hint"].endswith("@e***.com")  # machine-readable members unchanged

    (lock,) = activation(device)["locks"]  # no locale: English, as before
    assert lock["message"] == OWNER_LOCK_MESSAGE
    for unknown in ("pt-BR", "not a tag", 42, ["de"], "x" * 100):
        (lock,) = activation(device, locale=unknown)["locks"]  # never an error
        assert lock["message"] == OWNER_LOCK_MESSAGE


def test_a_territory_lock_speaks_the_device_language_else_the_territory_language(
        device: Device, runtime: Services, clock: FixedClock) -> None:
    runtime.policies.apply(POLICY, "ops", "export rules")
    clock.advance(10)
    by_device = activation(device, signals=IN_IRAN, locale="de")["locks"][0]
    assert by_device["message"] == "Nicht in IR: fragen Sie your retailer."
    by_territory = activation(device, signals=IN_IRAN)["locks"][0]
    assert by_territory["message"] == "در IR نه: از your retailer بپرسید."
    english = activation(device, signals=IN_IRAN, locale="en")["locks"][0]
    assert english["message"] == "Not in IR: ask your retailer."
    assert {lock["rule"] for lock in (by_device, by_territory, english)} == {"iran"}


def test_a_lock_in_use_is_said_again_in_the_language_of_each_check_in(
        device: Device, runtime: Services, clock: FixedClock,
        catalogs: WriteCatalog) -> None:
    catalogs("ru", {IN_USE_MESSAGE: "Политика %(maker)s запрещает использование здесь."})
    runtime.policies.apply(POLICY, "ops", "export rules")
    clock.advance(10)
    assert activation(device, signals={})["status"] == "activated"
    in_korea = {"signals": {"gnss": {"country": "KP"}}, "acks": []}
    locked = device.post(CHECKIN, {**in_korea, "locale": "ru"}).record()
    assert locked["locks"][0]["message"] == "Политика Example Phones запрещает использование здесь."
    again = device.post(CHECKIN, in_korea).record()  # KP's language has no catalog here
    assert again["locks"][0]["message"].startswith(
        "The policy of Example Phones does not permit use of the product")
    stored = rows(runtime, t.claims, t.claims.c.device_id == device.device_id)
    assert stored[0].message == again["locks"][0]["message"]  # the claim keeps English


def test_the_default_territory_message_comes_from_the_territory_catalog(
        device: Device, runtime: Services, clock: FixedClock,
        catalogs: WriteCatalog) -> None:
    catalogs("fa", {DEFAULT_MESSAGE: "سیاست %(maker)s: با %(contact)s تماس بگیرید."})
    runtime.policies.apply('maker = "Example Phones"\n[[rules]]\nid = "iran"\n'
                           'effect = "deny_activation"\nterritories = ["IR"]\n', "ops", "rules")
    clock.advance(10)
    (lock,) = activation(device, signals=IN_IRAN)["locks"]
    assert lock["message"] == "سیاست Example Phones: با the retailer تماس بگیرید."


# -- mail -------------------------------------------------------------------------------------


def register(client: TestClient, email: str, accept_language: str | None) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.post("/v1/accounts", headers=headers,
                           json={"email": email, "password": Accounts.new_password()})
    assert response.status_code == 201, response.text


def stored_locale(runtime: Services, email: str) -> str | None:
    (account,) = rows(runtime, t.accounts, t.accounts.c.email == email)
    return None if account.locale is None else str(account.locale)


def test_mail_is_written_in_the_language_the_account_signed_up_in(
        client: TestClient, runtime: Services, settings: Settings, clock: FixedClock,
        catalogs: WriteCatalog) -> None:
    catalogs("fr", {RESET_SUBJECT: RESET_SUBJECT_FR, RESET_BODY: RESET_BODY_FR})
    french, plain, other = (Accounts.new_email(p) for p in ("fr", "plain", "other"))
    register(client, french, "fr-CH, fr;q=0.9, en;q=0.5")
    register(client, plain, None)
    register(client, other, "pt-BR")
    assert [stored_locale(runtime, e) for e in (french, plain, other)] == ["fr", None, "en"]

    for email in (french, plain, other):
        assert client.post("/v1/password-resets", json={"email": email}).status_code == 202
    runtime.password_reset.process_pending()  # as the server's background does
    (mail,) = outbox(runtime, french)
    assert mail.subject == RESET_SUBJECT_FR
    assert mail.body.startswith("Quelqu'un a demandé") and "valable 60 minutes" in mail.body
    for email in (plain, other):
        (mail,) = outbox(runtime, email)
        assert mail.subject == RESET_SUBJECT  # English: none asked, or none we speak

    clock.advance(5)
    runtime.mail.dispatch()
    sent = [message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in settings.outbox_dir.glob("*.eml")]
    assert RESET_SUBJECT_FR in [m["Subject"] for m in sent]  # non-ASCII survives delivery


def test_a_relay_sender_without_an_account_is_answered_in_the_request_language(
        client: TestClient, runtime: Services, device: Device,
        catalogs: WriteCatalog) -> None:
    subject = "Confirm your message to a device's holder"
    catalogs("es", {subject: "Confirme su mensaje"})
    sender = Accounts.new_email("finder")
    answer = client.post("/v1/public/messages", headers={"Accept-Language": "es-MX"},
                         json={"device_id": device.device_id, "from": sender,
                               "message": "I found your phone."})
    assert answer.status_code == 202, answer.text
    (mail,) = outbox(runtime, sender)
    assert mail.subject == "Confirme su mensaje"
    assert "Token:\n" in mail.body  # the line a script looks for is never translated
