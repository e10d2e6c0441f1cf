"""Which language a lock screen speaks: the device's `locale` tag, a policy rule's
message per language, the territory's language, English — and never a blank.

Translation itself is real gettext: the `catalogs` fixture writes a small .po file
that tenure.i18n compiles like the shipped ones (tests/catalogs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tenure.domain.decide import (
    OWNER_LOCK_MESSAGE,
    RELEASED_IF_ACTIVATION,
    DecisionInput,
    decide,
)
from tenure.domain.model import Act, Claim, ClaimKind, Device, Lock
from tenure.domain.policy import Policy, PolicyError, Verdict, verdict
from tenure.domain.policy_text import DEFAULT_MESSAGE
from tenure.domain.territory import Presence
from tenure.domain.wording import Phrase
from tenure.i18n.territories import territory_locales
from tenure.services.commands_text import ENROLLMENT_NOTICE, enrollment_notice, localize_commands
from tenure.services.device_payload import device_locale
from tenure.services.lock_text import lock_message, reading_order
from tenure.services.policy import parse_document
from tenure.services.records import lock_json, way_out
from tests.catalogs import WriteCatalog

PHONE = Device("TN1", "Tenure Phone 1", "TP1-128-BLK", "global")
NOW = 1_800_000_000


# -- the device's `locale` tag ---------------------------------------------------------------


@pytest.mark.parametrize(("sent", "locale"), [
    ("de", "de"), ("de-AT", "de"), ("DE_at", "de"), ("fa-IR", "fa"), ("en", "en"),
    ("zh-Hant-TW", None),  # a language without a catalog here
    ("pt-BR", None), ("", None), ("d", None), ("de-", None), ("de AT", None),
    ("de\u0000", None), ("x" * 36, None), ("de-" + "a" * 40, None),
    (42, None), (None, None), (["de"], None), ({"tag": "de"}, None),
])
def test_a_locale_tag_names_a_supported_language_or_nothing(sent: Any,
                                                            locale: str | None) -> None:
    payload = {"signals": {}, "locale": sent}
    assert device_locale(payload) == locale


def test_no_locale_member_is_no_language() -> None:
    assert device_locale({"signals": {}}) is None


# -- the territory's language ----------------------------------------------------------------


@pytest.mark.parametrize(("territory", "locales"), [
    ("IR", ("fa",)), ("DE", ("de",)), ("RU", ("ru",)), ("SA", ("ar",)),
    ("DE-BE", ("de",)),  # a subdivision speaks its country's languages
    ("BE", ("fr", "de")),  # Dutch first in CLDR, but no catalog here
    ("UA", ()), ("UA-43", ()), ("KP", ()),  # no catalog for their languages
    ("US", ("en",)),  # no de jure official language: the de facto one
    ("", ()), ("*", ()), ("ZZ", ()), ("12", ()),
])
def test_territory_locales_are_the_official_languages_we_have(
        territory: str, locales: tuple[str, ...]) -> None:
    assert territory_locales(territory) == locales


def test_the_reading_order_is_device_then_territory_then_english() -> None:
    assert reading_order(None) == ("en",)
    assert reading_order("de") == ("de", "en")
    assert reading_order(None, "IR") == ("fa", "en")
    assert reading_order("de", "IR") == ("de", "fa", "en")
    assert reading_order("fa", "IR") == ("fa", "en")
    assert reading_order("en", "IR") == ("en", "fa")


# -- a policy rule's message per language -----------------------------------------------------

PER_LANGUAGE = """
maker = "Example Phones"
contact = "your retailer"

[[rules]]
id = "iran"
effect = "deny_activation"
territories = ["IR"]
message = "Not in {territory}; ask {contact}."

[rules.messages]
fa = "در {territory} نه؛ از {contact} بپرسید."
de = "Nicht in {territory}; fragen Sie {contact}."
"""


def at(policy: Policy, territory: str) -> Verdict:
    found = verdict(policy, PHONE, Presence((territory,), policy.evidence, ()))
    assert found is not None
    return found


def refusal(policy: Policy, territory: str) -> Lock:
    decision = decide(DecisionInput(PHONE, Act.ACTIVATE, (), NOW, 0,
                                    verdict=at(policy, territory)))
    (lock,) = decision.locks
    return lock


def test_a_rule_gives_its_message_per_language_placeholders_filled() -> None:
    found = at(parse_document(PER_LANGUAGE), "IR")
    assert found.message == "Not in IR; ask your retailer."
    assert dict(found.wordings) == {"fa": "در IR نه؛ از your retailer بپرسید.",
                                    "de": "Nicht in IR; fragen Sie your retailer."}


def test_the_device_language_wins_then_the_territory_language_then_english() -> None:
    lock = refusal(parse_document(PER_LANGUAGE), "IR")
    assert lock_message(lock, "de") == "Nicht in IR; fragen Sie your retailer."
    assert lock_message(lock, "en") == "Not in IR; ask your retailer."
    assert lock_message(lock, "fr") == "در IR نه؛ از your retailer بپرسید."  # no French
    assert lock_message(lock, None) == "در IR نه؛ از your retailer بپرسید."


def test_without_a_message_in_the_territory_language_english_is_shown() -> None:
    text = PER_LANGUAGE.replace('fa = "در {territory} نه؛ از {contact} بپرسید."\n', "")
    lock = refusal(parse_document(text), "IR")
    assert lock_message(lock, None) == "Not in IR; ask your retailer."
    assert lock_message(lock, "ru") == "Not in IR; ask your retailer."
    assert lock_message(lock, "de") == "Nicht in IR; fragen Sie your retailer."


def test_a_policy_without_messages_is_read_as_before() -> None:
    text = PER_LANGUAGE.split("[rules.messages]")[0]
    found = at(parse_document(text), "IR")
    assert found.wordings == () and found.message == "Not in IR; ask your retailer."
    inline = text + 'messages = { de = "Nein" }\n'
    assert dict(at(parse_document(inline), "IR").wordings) == {"de": "Nein"}


@pytest.mark.parametrize(("messages", "problem"), [
    ('xx = "?"', "rules[0] (iran).messages: 'xx' is not a language this server has "
                 "messages for (use a lower-case code of: de, fr, es, ru, ar, fa)"),
    ('DE = "?"', "rules[0] (iran).messages: 'DE' is not a language"),
    ('en = "?"', "rules[0] (iran).messages: English is the rule's `message`"),
    ('de = "Nicht in {land}"', "rules[0] (iran).messages.de: unknown placeholder {land}"),
    ('de = 3', "rules[0] (iran).messages.de: must be a string"),
    ('de = "a\\u0000b"', "rules[0] (iran).messages.de: contains the control character"),
])
def test_a_message_in_an_unknown_language_is_refused_clearly(messages: str,
                                                             problem: str) -> None:
    text = PER_LANGUAGE.split("[rules.messages]")[0] + "[rules.messages]\n" + messages + "\n"
    with pytest.raises(PolicyError) as caught:
        parse_document(text)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_messages_need_the_english_message_and_must_be_a_table() -> None:
    base = ('[[rules]]\nid = "iran"\neffect = "deny_activation"\nterritories = ["IR"]\n')
    with pytest.raises(PolicyError) as caught:
        parse_document(base + '[rules.messages]\nde = "Nein"\n')
    assert caught.value.problems == [
        "rules[0] (iran).messages: give `message` too: the English text, shown when the "
        "reader's language has none here"]
    with pytest.raises(PolicyError) as caught:
        parse_document(base + 'message = "No"\nmessages = "Nein"\n')
    assert caught.value.problems == [
        'rules[0] (iran).messages: must be a table of language = "message"']


# -- catalog texts in the device's language ---------------------------------------------------

OWNER_DE = "Dieses Gerät ist mit einem Konto verknüpft."
DEFAULT_FA = "سیاست %(maker)s اجازه نمی‌دهد. با %(contact)s تماس بگیرید."


def owner_lock() -> Lock:
    claim = Claim("c1", "TN1", ClaimKind.OWNER, "acct", NOW, holder_hint="a***@e***.com")
    (lock,) = decide(DecisionInput(PHONE, Act.ACTIVATE, (claim,), NOW, 0)).locks
    return lock


def test_a_catalog_message_is_said_in_the_device_language(catalogs: WriteCatalog) -> None:
    catalogs("de", {OWNER_LOCK_MESSAGE: OWNER_DE})
    lock = owner_lock()
    assert lock_json(lock, "de")["message"] == OWNER_DE
    assert lock_json(lock, None)["message"] == OWNER_LOCK_MESSAGE  # no locale: English
    assert lock_json(lock, "fr")["message"] == OWNER_LOCK_MESSAGE  # no French catalog
    assert lock_json(lock, "de")["hint"] == "a***@e***.com"  # codes stay as they are


def test_a_message_missing_from_the_catalog_stays_english(catalogs: WriteCatalog) -> None:
    catalogs("de", {"something else": "etwas anderes"})
    assert lock_message(owner_lock(), "de") == OWNER_LOCK_MESSAGE


def test_a_person_own_words_are_shown_as_written(catalogs: WriteCatalog) -> None:
    catalogs("de", {"Please call me": "Bitte rufen Sie mich an"})
    claim = Claim("c1", "TN1", ClaimKind.LOST, "acct", NOW, message="Please call me",
                  contact="+49 30 1234")
    (lock,) = decide(DecisionInput(PHONE, Act.USE, (claim,), NOW, 0)).locks
    assert lock_message(lock, "de") == "Please call me"


def test_a_default_territory_message_speaks_the_territory_language(
        catalogs: WriteCatalog) -> None:
    catalogs("fa", {DEFAULT_MESSAGE: DEFAULT_FA, RELEASED_IF_ACTIVATION: "فعال‌سازی در جای دیگر"})
    catalogs("de", {OWNER_LOCK_MESSAGE: OWNER_DE})
    text = 'maker = "Example Phones"\n[[rules]]\nid = "iran"\neffect = "deny_activation"\n' \
           'territories = ["IR"]\n'
    lock = refusal(parse_document(text), "IR")
    out = {**lock_json(lock, None), **way_out(lock, "TN1", "https://t.example", None)}
    assert out["message"] == "سیاست Example Phones اجازه نمی‌دهد. با the retailer تماس بگیرید."
    assert out["released_if"] == "فعال‌سازی در جای دیگر"
    assert out["territory"] == "IR" and out["rule"] == "iran"  # codes unchanged
    # The device's own language comes first: German has no such message, so English.
    assert lock_message(lock, "de").startswith("The policy of Example Phones does not permit")


def test_an_organization_lock_names_the_organization_in_any_language(
        catalogs: WriteCatalog) -> None:
    from tenure.domain.decide import ORGANIZATION_MESSAGE
    catalogs("fr", {ORGANIZATION_MESSAGE: "Cet appareil appartient à %(name)s."})
    claim = Claim("c1", "TN1", ClaimKind.ORGANIZATION, "tenant", NOW,
                  holder_hint="Acme Fleet", message="stored English", contact="it@acme")
    (lock,) = decide(DecisionInput(PHONE, Act.ACTIVATE, (claim,), NOW, 0)).locks
    assert lock_message(lock, "fr") == "Cet appareil appartient à Acme Fleet."
    assert lock_message(lock, None).startswith("This device belongs to Acme Fleet.")


def test_a_translation_whose_placeholders_break_falls_back_to_english(
        catalogs: WriteCatalog) -> None:
    catalogs("fa", {DEFAULT_MESSAGE: "سیاست %(brand)s"})
    lock = refusal(parse_document('[[rules]]\nid = "x"\neffect = "deny_activation"\n'
                                  'territories = ["IR"]\n'), "IR")
    assert lock_message(lock, None) == lock.message != ""


def test_the_enrollment_notice_is_said_in_the_device_language(catalogs: WriteCatalog) -> None:
    catalogs("es", {ENROLLMENT_NOTICE: "%(creditor)s financia este equipo (%(days)s días)."})
    english = enrollment_notice("Bank", "+34 900", 30, 72).english()
    stored = {"id": "n1", "type": "notice", "kind": "creditor-enrollment",
              "creditor": "Bank", "contact": "+34 900", "offline_lock_days": 30,
              "notice_hours": 72, "text": english}
    older = {k: v for k, v in stored.items() if k not in ("offline_lock_days", "notice_hours")}
    ring = {"id": "r1", "type": "ring"}
    said = localize_commands([stored, older, ring], "es")
    assert said[0]["text"] == "Bank financia este equipo (30 días)."
    assert said[1]["text"] == english  # queued before its terms were kept: as stored
    assert said[2] == ring
    assert localize_commands([stored], None)[0]["text"] == english


def test_a_phrase_in_english_fills_its_values() -> None:
    phrase = Phrase.of("Until %(when)s in %(where)s.", where="IR")
    assert phrase.with_values(when="noon").english() == "Until noon in IR."
    assert Phrase.of("A", "B").english() == "A B"
