"""Retail sales in the pure domain: what a sales row must be, when a retailer counts as
licensed, and how a rule's `exempt_licensed_sales` lets a licensed sale through — only
that rule, only where the device was sold, and only for a licensed sale."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenure.domain.decide import DecisionInput, decide
from tenure.domain.model import Act, Device, Sale
from tenure.domain.policy import Policy, PolicyError, parse_policy, verdict
from tenure.domain.retail import (
    License,
    RowRefused,
    SaleRow,
    latest_sale_date,
    licensed_on,
    read_row,
    sale_exemptions,
)
from tenure.domain.status import territory_restrictions
from tenure.domain.territory import Presence
from tenure.geo.territories import normalise_territory

PHONE = Device("SN-1", "TP1", "TP1-64", "eu")
DAY = 86400
JAN_1 = 1767225600  # 2026-01-01T00:00:00Z

EMBARGO = """
[[rules]]
id = "embargo"
effect = "lock_in_use"
territories = ["IR", "CU", "UA-43"]
exempt_licensed_sales = true

[[rules]]
id = "strict"
effect = "deny_activation"
territories = ["KP"]
"""


def policy(text: str = EMBARGO) -> Policy:
    return parse_policy(tomllib.loads(text), normalise_territory)


def at(where: tuple[str, ...], sale: Sale | None, p: Policy | None = None) -> str | None:
    found = verdict(p or policy(), PHONE, Presence(where, "corroborated", ()), sale)
    return None if found is None else found.rule_id


def sale(territory: str = "IR", licensed: bool = True) -> Sale:
    return Sale("retailer-1", "2026-01-05", territory, licensed)


# -- the rule option -----------------------------------------------------------------------

def test_a_licensed_sale_exempts_the_device_where_it_was_sold() -> None:
    assert at(("IR",), None) == "embargo"
    assert at(("IR",), sale("IR")) is None
    assert at(("IR",), sale("IR", licensed=False)) == "embargo"  # an unlicensed sale: no
    assert at(("CU",), sale("IR")) == "embargo"  # sold elsewhere: no
    assert at(("KP",), sale("KP")) == "strict"  # a rule without the option: no


def test_a_country_sale_covers_its_subdivisions_but_not_the_other_way_round() -> None:
    assert at(("UA-43",), sale("UA")) is None
    deny_ua = policy('[[rules]]\nid = "ua"\neffect = "deny_activation"\n'
                     'territories = ["UA"]\nexempt_licensed_sales = true\n')
    assert at(("UA-30",), sale("UA-43"), deny_ua) == "ua"
    assert at(("UA-43",), sale("UA-43"), deny_ua) is None


def test_of_two_territories_the_one_not_covered_still_restricts() -> None:
    assert at(("IR", "CU"), sale("IR")) == "embargo"
    assert at(("IR", "KP"), sale("IR")) == "strict"


def test_the_option_is_checked_when_the_policy_is_read() -> None:
    with pytest.raises(PolicyError) as caught:
        policy('[[rules]]\nid = "a"\neffect = "deny_activation"\nterritories = ["IR"]\n'
               'exempt_licensed_sales = "yes"\n\n[[rules]]\nid = "b"\neffect = "allow"\n'
               'territories = ["CU"]\nexempt_licensed_sales = true\n')
    assert caught.value.problems == [
        "rules[0] (a).exempt_licensed_sales: must be true or false",
        "rules[1] (b).exempt_licensed_sales: only applies to restricting rules"]
    assert policy().exempts_sales and not policy('[[rules]]\nid = "a"\neffect = "allow"\n'
                                                 'territories = ["IR"]\n').exempts_sales


@given(st.sampled_from(["IR", "CU", "UA-43", "KP", "DE"]),
       st.sampled_from(["IR", "CU", "UA", "UA-43", "KP", "DE"]), st.booleans())
def test_a_sale_never_restricts_more_and_frees_only_licensed_covered_flagged_rules(
        where: str, sold_in: str, licensed: bool) -> None:
    without = at((where,), None)
    with_sale = at((where,), Sale("r", "2026-01-05", sold_in, licensed))
    assert with_sale in (without, None)
    if with_sale != without:
        assert licensed and without == "embargo"
        assert where == sold_in or where.startswith(sold_in + "-")


def test_the_decision_says_why_a_device_was_let_through() -> None:
    here = Presence(("IR",), "corroborated", (("ip", "IR"), ("sim", "IR")))
    notes = sale_exemptions(policy(), PHONE, here, sale("IR"))
    assert notes == ("territory policy rule 'embargo' (lock_in_use) in IR: exempted, sold on "
                     "2026-01-05 in IR by retailer retailer-1, licensed there on that day",)
    decision = decide(DecisionInput(
        device=PHONE, act=Act.ACTIVATE, claims=(), now=JAN_1, credential_cooldown=0,
        verdict=verdict(policy(), PHONE, here, sale("IR")), presence=here, exemptions=notes))
    assert not decision.locked and notes[0] in decision.reasons
    assert sale_exemptions(policy(), PHONE, here, sale("CU")) == ()


def test_the_buyers_statement_leaves_out_where_a_licensed_sale_exempts() -> None:
    assert territory_restrictions(policy(), PHONE) == ["CU", "IR", "KP", "UA-43"]
    assert territory_restrictions(policy(), PHONE, sale("IR")) == ["CU", "KP", "UA-43"]
    assert territory_restrictions(policy(), PHONE, sale("IR", False)) == [
        "CU", "IR", "KP", "UA-43"]


# -- licences --------------------------------------------------------------------------------

def test_a_licence_counts_from_the_day_granted_to_the_day_before_revoked() -> None:
    lic = [License("IR", JAN_1 + 10 * 3600, JAN_1 + 9 * DAY + 3600)]  # Jan 1 .. Jan 10
    assert not licensed_on(lic, "IR", date(2025, 12, 31))
    assert licensed_on(lic, "IR", date(2026, 1, 1))
    assert licensed_on(lic, "IR", date(2026, 1, 9))
    assert not licensed_on(lic, "IR", date(2026, 1, 10))
    assert not licensed_on(lic, "CU", date(2026, 1, 5))
    assert licensed_on([License("UA", JAN_1)], "UA-43", date(2030, 1, 1))
    assert not licensed_on([License("UA-43", JAN_1)], "UA", date(2030, 1, 1))


@given(st.integers(0, 400), st.integers(0, 400), st.integers(0, 400))
def test_a_licence_in_force_covers_exactly_the_days_between(granted: int, length: int,
                                                             sold: int) -> None:
    lic = License("CU", JAN_1 + granted * DAY, JAN_1 + (granted + length) * DAY)
    day = date.fromordinal(date(2026, 1, 1).toordinal() + sold)
    assert licensed_on([lic], "CU", day) == (granted <= sold < granted + length)


# -- rows --------------------------------------------------------------------------------------

LATEST = date(2026, 3, 1)


def row(**raw: object) -> SaleRow | RowRefused:
    return read_row(3, raw, LATEST, normalise_territory)


def reason(**raw: object) -> str:
    checked = row(**raw)
    assert isinstance(checked, RowRefused) and checked.index == 3
    return checked.reason


def test_a_good_row_by_id_or_imei() -> None:
    assert row(device_id="SN-1", sold_on="2026-02-28", territory="ir") == SaleRow(
        3, "SN-1", None, date(2026, 2, 28), "IR")
    assert row(imei="490154203237518", sold_on="2026-03-01", territory="UA-43") == SaleRow(
        3, None, "490154203237518", date(2026, 3, 1), "UA-43")


@pytest.mark.parametrize(("raw", "expected"), [
    ({"sold_on": "2026-01-01", "territory": "IR"}, "invalid-row"),
    ({"device_id": "SN-1", "imei": "490154203237518", "sold_on": "2026-01-01",
      "territory": "IR"}, "invalid-row"),
    ({"device_id": 5, "sold_on": "2026-01-01", "territory": "IR"}, "invalid-row"),
    ({"imei": "490154203237517", "sold_on": "2026-01-01", "territory": "IR"}, "invalid-row"),
    ({"device_id": "SN-1", "sold_on": "2026-02-30", "territory": "IR"}, "bad-date"),
    ({"device_id": "SN-1", "sold_on": "1999-12-31", "territory": "IR"}, "bad-date"),
    ({"device_id": "SN-1", "sold_on": "20260101", "territory": "IR"}, "bad-date"),
    ({"device_id": "SN-1", "sold_on": 20260101, "territory": "IR"}, "bad-date"),
    ({"device_id": "SN-1", "sold_on": "2026-03-02", "territory": "IR"}, "future-date"),
    ({"device_id": "SN-1", "sold_on": "2026-01-01", "territory": "XX"}, "bad-territory"),
    ({"device_id": "SN-1", "sold_on": "2026-01-01", "territory": "IR\x00"}, "bad-territory"),
    ({"device_id": "SN-1", "sold_on": "2026-01-01"}, "bad-territory"),
])
def test_each_bad_row_gets_its_reason(raw: dict[str, object], expected: str) -> None:
    assert reason(**raw) == expected


def test_not_an_object_is_an_invalid_row() -> None:
    assert read_row(0, ["SN-1"], LATEST, normalise_territory) == RowRefused(0, "invalid-row")


def test_today_anywhere_on_earth_is_not_the_future() -> None:
    # 2026-03-01 11:00 UTC is already 2026-03-02 in UTC+14 (Kiribati), not yet 03-03.
    assert latest_sale_date(JAN_1 + 59 * DAY + 11 * 3600) == date(2026, 3, 2)
    assert latest_sale_date(JAN_1 + 59 * DAY + 9 * 3600) == date(2026, 3, 1)
