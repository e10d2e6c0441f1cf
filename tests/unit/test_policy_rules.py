"""Territory policy documents and the verdict they give for a device where it is.

A maker writes a policy once and it decides for millions of devices, so the
precedence must be exactly the documented one (domain/policy.py), the text a user
sees must be the maker's, and a mistaken document must be refused with every problem
listed at once, each with where it is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tenure.domain.model import Device
from tenure.domain.policy import Policy, PolicyError, Verdict, parse_policy, verdict
from tenure.domain.territory import Presence
from tenure.geo.territories import normalise_territory
from tenure.http.problems import status_of
from tenure.services.policy import parse_document

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"
PHONE = Device("SN-1", "TP1", "TP1-64", "eu")


def policy(text: str) -> Policy:
    return parse_policy(tomllib.loads(text), normalise_territory)


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        policy(text)
    return caught.value.problems


def at(policy_: Policy, *territories: str, device: Device = PHONE) -> Verdict | None:
    return verdict(policy_, device, Presence(tuple(territories), policy_.evidence, ()))


def winner(policy_: Policy, *territories: str, device: Device = PHONE) -> str | None:
    """The id of the rule that restricts the device there; None when it is free."""
    found = at(policy_, *territories, device=device)
    return None if found is None else found.rule_id


def rule(rule_id: str, effect: str, territories: str, match: str = "", extra: str = "") -> str:
    lines = ["[[rules]]", f'id = "{rule_id}"', f'effect = "{effect}"',
             f"territories = {territories}"]
    if match:
        lines.append(f"match = {match}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


# -- precedence: territory specificity ------------------------------------------------------


def test_subdivision_beats_country() -> None:
    """A Crimea rule applies in Crimea even though a Ukraine-wide allow is written first and
    allow would win a tie."""
    p = policy(rule("ua-ok", "allow", '["UA"]') + rule("crimea", "deny_activation", '["UA-43"]'))
    assert winner(p, "UA-43") == "crimea"
    assert winner(p, "UA-30") is None
    assert winner(p, "UA") is None


def test_country_beats_market() -> None:
    p = policy('[markets]\neu = ["DE", "FR"]\n'
               + rule("eu-ok", "allow", '["@eu"]') + rule("no-de", "deny_activation", '["DE"]'))
    assert winner(p, "DE") == "no-de"
    assert winner(p, "FR") is None


def test_market_beats_anywhere() -> None:
    p = policy('[markets]\neu = ["DE", "FR"]\n'
               + rule("eu-ok", "allow", '["@eu"]') + rule("nowhere", "lock_in_use", '["*"]'))
    assert winner(p, "FR") is None
    assert winner(p, "US") == "nowhere"


def test_a_market_covers_the_subdivisions_of_its_countries() -> None:
    p = policy('[markets]\nua = ["UA"]\n' + rule("ua", "deny_activation", '["@ua"]'))
    assert winner(p, "UA-43") == "ua"
    assert winner(p, "RU") is None


def test_territory_specificity_comes_before_match_specificity() -> None:
    """A SKU-specific rule for `*` loses to an everybody rule naming the country."""
    p = policy(rule("sku-nowhere", "deny_activation", '["*"]', '{ skus = ["TP1-64"] }')
               + rule("ir-ok", "allow", '["IR"]'))
    assert winner(p, "IR") is None
    assert winner(p, "DE") == "sku-nowhere"


# -- precedence: match specificity -----------------------------------------------------------


def test_skus_beat_models() -> None:
    p = policy(rule("model-ok", "allow", '["IR"]', '{ models = ["TP1"] }')
               + rule("sku-no", "deny_activation", '["IR"]', '{ skus = ["TP1-64"] }'))
    assert winner(p, "IR") == "sku-no"
    assert winner(p, "IR", device=Device("SN-2", "TP1", "TP1-128", "eu")) is None


def test_models_beat_markets() -> None:
    p = policy(rule("market-ok", "allow", '["IR"]', '{ markets = ["eu"] }')
               + rule("model-no", "deny_activation", '["IR"]', '{ models = ["TP1"] }'))
    assert winner(p, "IR") == "model-no"
    assert winner(p, "IR", device=Device("SN-2", "TP2", "TP2-64", "eu")) is None


def test_markets_beat_no_match() -> None:
    p = policy(rule("all-ok", "allow", '["IR"]')
               + rule("eu-no", "deny_activation", '["IR"]', '{ markets = ["eu"] }'))
    assert winner(p, "IR") == "eu-no"
    assert winner(p, "IR", device=Device("SN-2", "TP1", "TP1-64", "us")) is None


def test_a_rule_whose_match_does_not_cover_the_device_is_ignored() -> None:
    p = policy(rule("tp2", "deny_activation", '["IR"]', '{ models = ["TP2"] }'))
    assert winner(p, "IR") is None
    assert winner(p, "IR", device=Device("SN-2", "TP2", "TP2-64", "eu")) == "tp2"


def test_every_match_field_must_cover_the_device() -> None:
    p = policy(rule("tp1-cn", "deny_activation", '["IR"]',
                    '{ models = ["TP1"], markets = ["cn"] }'))
    assert winner(p, "IR") is None  # TP1, but an eu device
    assert winner(p, "IR", device=Device("SN-2", "TP1", "TP1-64", "cn")) == "tp1-cn"


# -- precedence: effect, then file order -----------------------------------------------------


def test_lock_in_use_beats_deny_activation_on_a_tie() -> None:
    p = policy(rule("deny", "deny_activation", '["IR"]') + rule("lock", "lock_in_use", '["IR"]'))
    assert winner(p, "IR") == "lock"


def test_allow_beats_lock_in_use_on_a_tie() -> None:
    p = policy(rule("lock", "lock_in_use", '["IR"]') + rule("ok", "allow", '["IR"]')
               + rule("deny", "deny_activation", '["IR"]'))
    assert winner(p, "IR") is None


def test_the_rule_written_first_wins_a_full_tie() -> None:
    first = rule("first", "lock_in_use", '["IR"]', extra="grace_hours = 1")
    second = rule("second", "lock_in_use", '["IR"]', extra="grace_hours = 99")
    assert winner(policy(first + second), "IR") == "first"
    assert winner(policy(second + first), "IR") == "second"
    found = at(policy(first + second), "IR")
    assert found is not None and found.grace_hours == 1


# -- carve-outs and market-only products -----------------------------------------------------


def test_allow_carves_one_sku_out_of_a_sanctions_rule() -> None:
    p = policy(rule("sanctions", "lock_in_use", '["IR", "CU"]')
               + rule("research", "allow", '["CU"]', '{ skus = ["TP1-RESEARCH"] }'))
    research = Device("SN-R", "TP1", "TP1-RESEARCH", "eu")
    assert winner(p, "CU", device=research) is None
    assert winner(p, "IR", device=research) == "sanctions"  # the licence is for Cuba only
    assert winner(p, "CU") == "sanctions"  # every other SKU


def test_market_only_skus_are_refused_outside_their_market() -> None:
    p = policy('[markets]\ncn = ["CN"]\n'
               + rule("cn-only", "deny_activation", '["*"]', '{ markets = ["cn"] }')
               + rule("cn-home", "allow", '["@cn"]', '{ markets = ["cn"] }'))
    cn_phone = Device("SN-C", "TP1", "TP1-CN", "cn")
    assert winner(p, "CN", device=cn_phone) is None
    assert winner(p, "DE", device=cn_phone) == "cn-only"
    assert winner(p, "DE") is None  # eu devices are not affected
    refused = at(p, "DE", device=cn_phone)
    assert refused is not None and refused.refuses_activation


def test_in_several_territories_the_most_severe_restriction_applies() -> None:
    p = policy(rule("ir", "deny_activation", '["IR"]') + rule("kp", "lock_in_use", '["KP"]'))
    found = at(p, "IR", "KP")
    assert found is not None and (found.rule_id, found.territory) == ("kp", "KP")
    p = policy(rule("ir", "lock_in_use", '["IR"]') + rule("kp", "deny_activation", '["KP"]'))
    found = at(p, "KP", "IR")
    assert found is not None and (found.rule_id, found.territory) == ("ir", "IR")


def test_an_allow_in_one_territory_does_not_cancel_a_restriction_in_another() -> None:
    p = policy(rule("de-ok", "allow", '["DE"]') + rule("ir", "deny_activation", '["IR"]'))
    assert winner(p, "DE", "IR") == "ir"


def test_no_rule_no_restriction() -> None:
    assert at(policy(""), "IR") is None
    assert at(policy(rule("ir", "lock_in_use", '["IR"]')), "DE") is None
    assert at(policy(rule("ir", "lock_in_use", '["IR"]'))) is None  # nowhere known


def test_deny_activation_refuses_activation_and_lock_in_use_too() -> None:
    deny = at(policy(rule("ir", "deny_activation", '["IR"]')), "IR")
    lock = at(policy(rule("ir", "lock_in_use", '["IR"]', extra="grace_hours = 72")), "IR")
    assert deny is not None and deny.refuses_activation and deny.effect == "deny_activation"
    assert lock is not None and lock.refuses_activation and lock.grace_hours == 72


# -- messages --------------------------------------------------------------------------------


def notice_text(found: Verdict, when: str) -> str:
    """The warning before an in-use lock, in English, as the service fills it."""
    assert found.notice_phrase is not None
    return found.notice_phrase.with_values(when=when).english()


def test_default_message_names_the_maker_and_the_rule_contact() -> None:
    p = policy('maker = "Example Phones"\ncontact = "your retailer"\n'
               + rule("ir", "lock_in_use", '["IR"]', extra='contact = "Compliance, +1 555 0100"'))
    found = at(p, "IR")
    assert found is not None
    assert "The policy of Example Phones does not permit sale or provision" in found.message
    assert "Please contact Compliance, +1 555 0100 directly" in found.message
    assert found.contact == "Compliance, +1 555 0100"
    assert "Example Phones" in found.in_use_message
    assert "Compliance, +1 555 0100" in found.in_use_message
    notice = notice_text(found, "2026-11-20 12:00 UTC")
    assert "IR" in notice and "2026-11-20 12:00 UTC" in notice and "Example Phones" in notice


def test_default_message_falls_back_to_the_policy_contact() -> None:
    p = policy('maker = "Example Phones"\ncontact = "your retailer"\n'
               + rule("ir", "deny_activation", '["IR"]'))
    found = at(p, "IR")
    assert found is not None and found.contact == "your retailer"
    assert "Please contact your retailer directly" in found.message


def test_default_message_without_a_maker_reads_correctly() -> None:
    found = at(policy(rule("ir", "deny_activation", '["IR"]')), "IR")
    assert found is not None
    assert "The The" not in found.message
    assert "The The" not in found.in_use_message
    assert "The The" not in notice_text(found, "2026-11-20 12:00 UTC")


def test_custom_message_placeholders_are_filled() -> None:
    p = policy('maker = "Example Phones"\n' + rule(
        "ir", "lock_in_use", '["IR"]',
        extra='message = "{maker} products cannot be used in {territory}; ask {contact}."\n'
              'contact = "compliance@example.com"'))
    found = at(p, "IR")
    assert found is not None
    expected = "Example Phones products cannot be used in IR; ask compliance@example.com."
    assert found.message == expected
    assert found.in_use_message == expected


def test_custom_message_names_the_territory_the_device_is_in() -> None:
    p = policy(rule("crimea", "deny_activation", '["UA"]', extra='message = "Not in {territory}"'))
    found = at(p, "UA-43")
    assert found is not None and found.message == "Not in UA-43"


def test_notice_survives_braces_in_the_contact() -> None:
    p = policy('contact = "Compliance {EU}"\n'
               + rule("ir", "lock_in_use", '["IR"]', extra="notice_hours = 24"))
    found = at(p, "IR")
    assert found is not None
    notice = notice_text(found, "2026-11-20 12:00 UTC")
    assert "Compliance {EU}" in notice and "2026-11-20 12:00 UTC" in notice


# -- parse errors ----------------------------------------------------------------------------


def test_unknown_territory_code_is_reported_with_its_location() -> None:
    found = problems_of(rule("sanctions", "lock_in_use", '["IR", "XZ"]'))
    assert len(found) == 1
    assert found[0].startswith("rules[0] (sanctions).territories: ")
    assert "'XZ'" in found[0]


def test_unknown_market_member_is_reported() -> None:
    found = problems_of('[markets]\neu = ["DE", "QQ"]\n')
    assert len(found) == 1 and found[0].startswith("markets.eu: ") and "'QQ'" in found[0]


@pytest.mark.parametrize(("text", "expected"), [
    (rule("r", "deny_activation", '["@nowhere"]'),
     "rules[0] (r).territories: no market named 'nowhere'"),
    (rule("r", "deny_activation", '["IR"]') + rule("r", "lock_in_use", '["KP"]'),
     "rules[1]: id 'r' is used twice"),
    (rule("r", "forbid", '["IR"]'), "rules[0] (r): effect must be one of"),
    (rule("r", "deny_activation", '["IR"]', extra="grace_hours = 24"),
     "rules[0] (r).grace_hours: only applies to lock_in_use rules"),
    (rule("r", "allow", '["IR"]', extra="notice_hours = 24"),
     "rules[0] (r).notice_hours: only applies to lock_in_use rules"),
    (rule("r", "lock_in_use", '["IR"]', extra="grace_hours = -1"),
     "rules[0] (r).grace_hours: must be a number of hours"),
    (rule("r", "lock_in_use", '["IR"]', extra="notice_hours = -0.5"),
     "rules[0] (r).notice_hours: must be a number of hours"),
    (rule("r", "lock_in_use", '["IR"]', extra="grace_hours = true"),
     "rules[0] (r).grace_hours: must be a number of hours"),
    (rule("r", "lock_in_use", '["IR"]', extra='grace_hours = "72"'),
     "rules[0] (r).grace_hours: must be a number of hours"),
    (rule("r", "lock_in_use", '["IR"]', extra='severity = "high"'),
     "rules[0] (r): unknown keys severity"),
    (rule("r", "lock_in_use", '["IR"]', '{ regions = ["x"] }'),
     "rules[0] (r).match: may only have models, skus and markets"),
    ('colour = "blue"\n', "colour: unknown setting"),
    ('evidence = "majority"\n', "evidence: must be one of any, corroborated"),
    (rule("r", "lock_in_use", "[]"), "rules[0] (r): needs at least one territory"),
    ('[[rules]]\neffect = "allow"\nterritories = ["IR"]\n', "rules[0]: needs an id"),
    (rule("r", "lock_in_use", '["IR"]', extra='message = "Ask {retailer}"'),
     "rules[0] (r).message: unknown placeholder {retailer}"),
])
def test_each_kind_of_mistake_is_reported_where_it_is(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(problem.startswith(expected) for problem in found), found


def test_every_problem_is_listed_at_once() -> None:
    """An operator fixes the whole file in one pass, not one error per attempt."""
    text = ('evidence = "majority"\ncolour = "blue"\n'
            '[markets]\neu = ["DE", "XX"]\n'
            + rule("sanctions", "lock_in_use", '["IR", "ZZ"]', extra="grace_hours = -1")
            + rule("sanctions", "forbid", '["@nowhere"]')
            + rule("kp", "deny_activation", '["KP"]',
                   extra='grace_hours = 24\nnotice_hours = 2\nseverity = "high"'))
    with pytest.raises(PolicyError) as caught:
        policy(text)
    found = caught.value.problems
    expected = [
        "colour: unknown setting",
        "evidence: must be one of",
        "markets.eu: unknown territory code 'XX'",
        "rules[0] (sanctions).territories: unknown territory code 'ZZ'",
        "rules[0] (sanctions).grace_hours: must be a number",
        "rules[1]: id 'sanctions' is used twice",
        "rules[1] (sanctions): effect must be one of",
        "rules[1] (sanctions).territories: no market named 'nowhere'",
        "rules[2] (kp): unknown keys severity",
        "rules[2] (kp).grace_hours: only applies to lock_in_use rules",
        "rules[2] (kp).notice_hours: only applies to lock_in_use rules",
    ]
    for start in expected:
        assert sum(p.startswith(start) for p in found) == 1, (start, found)
    assert len(found) == len(expected), found
    assert status_of(type(caught.value)) == 422  # the HTTP edge answers 422
    assert str(caught.value).startswith(f"{len(expected)} problems: ")
    assert caught.value.extensions["problems"] == found


def test_invalid_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_document('maker = "Example Phones\n[[rules]]\n')
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("not valid TOML")


def test_parse_document_also_validates() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_document(rule("r", "lock_in_use", '["XZ"]'))
    assert caught.value.problems[0].startswith("rules[0] (r).territories")


@pytest.mark.parametrize("message", ["Ask {maker.name}", "Ask {contact[phone]}"])
def test_placeholder_with_attribute_access_is_a_reported_problem(message: str) -> None:
    found = problems_of(rule("r", "lock_in_use", '["IR"]', extra=f'message = "{message}"'))
    assert any(p.startswith("rules[0] (r).message") for p in found)


def test_codes_are_normalised() -> None:
    p = policy('[markets]\neu = ["de"]\n' + rule("crimea", "deny_activation", '["ua-43"]'))
    assert p.markets["eu"] == ("DE",)
    assert p.rules[0].territories == ("UA-43",)
    assert winner(p, "UA-43") == "crimea"


def test_settings_have_defaults() -> None:
    p = policy("")
    assert p.evidence == "corroborated"
    assert p.rules == () and dict(p.markets) == {}


# -- the example -----------------------------------------------------------------------------


def test_the_example_policy_parses_and_means_what_its_comments_say() -> None:
    p = parse_document(EXAMPLE.read_text(encoding="utf-8"))
    assert p.maker == "Example Phones"
    assert p.evidence == "corroborated"
    assert [r.rule_id for r in p.rules] == [
        "sanctions", "cn-market-only", "cn-market-home", "cu-research-licence"]
    sanctions = at(p, "UA-43")
    assert sanctions is not None and sanctions.effect == "lock_in_use"
    assert (sanctions.grace_hours, sanctions.notice_hours) == (72, 24)
    assert sanctions.contact == "Example Phones compliance, +1 555 0100"
    assert at(p, "DE") is None
    cn_phone = Device("SN-C", "TP1", "TP1-CN", "cn")
    assert winner(p, "CN", device=cn_phone) is None
    assert winner(p, "DE", device=cn_phone) == "cn-market-only"
    assert winner(p, "IR", device=cn_phone) == "sanctions"
    research = Device("SN-R", "TP1", "TP1-RESEARCH", "eu")
    assert winner(p, "CU", device=research) is None
    assert winner(p, "CU") == "sanctions"
