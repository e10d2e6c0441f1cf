"""The territories a buyer's status statement lists, computed from the policy alone:
what the policy refuses or locks for this product, by its own precedence, so an
`allow` exception is never reported as a restriction."""

from __future__ import annotations

import tomllib

from tenure.domain.model import Device
from tenure.domain.policy import Policy, parse_policy
from tenure.domain.status import address_group, territory_restrictions
from tenure.geo.territories import normalise_territory

PHONE = Device("SN-1", "TP1", "TP1-64", "eu")
TABLET = Device("SN-2", "TB1", "TB1-64", "us")


def policy(text: str) -> Policy:
    return parse_policy(tomllib.loads(text), normalise_territory)


def test_no_policy_restricts_nothing() -> None:
    assert territory_restrictions(Policy(), PHONE) == []


def test_denied_and_locked_territories_are_listed_sorted() -> None:
    doc = policy('[[rules]]\nid = "a"\neffect = "lock_in_use"\nterritories = ["IR", "KP"]\n'
                 '[[rules]]\nid = "b"\neffect = "deny_activation"\nterritories = ["CU"]\n')
    assert territory_restrictions(doc, PHONE) == ["CU", "IR", "KP"]


def test_rules_for_other_products_do_not_count() -> None:
    doc = policy('[[rules]]\nid = "a"\neffect = "deny_activation"\nterritories = ["IR"]\n'
                 'match = {models = ["TB1"]}\n')
    assert territory_restrictions(doc, PHONE) == []
    assert territory_restrictions(doc, TABLET) == ["IR"]


def test_markets_expand_and_an_allow_exception_is_not_a_restriction() -> None:
    doc = policy('markets = {embargo = ["IR", "SY"]}\n'
                 '[[rules]]\nid = "a"\neffect = "deny_activation"\nterritories = ["@embargo"]\n'
                 '[[rules]]\nid = "b"\neffect = "allow"\nterritories = ["SY"]\n'
                 'match = {skus = ["TP1-64"]}\n')
    assert territory_restrictions(doc, PHONE) == ["IR"]
    assert territory_restrictions(doc, TABLET) == ["IR", "SY"]


def test_a_subdivision_is_listed_where_only_it_is_restricted() -> None:
    doc = policy('[[rules]]\nid = "a"\neffect = "lock_in_use"\nterritories = ["UA-43"]\n')
    assert territory_restrictions(doc, PHONE) == ["UA-43"]


def test_everywhere_is_a_star_and_named_exceptions_are_left_out() -> None:
    doc = policy('[[rules]]\nid = "a"\neffect = "deny_activation"\nterritories = ["*"]\n'
                 '[[rules]]\nid = "b"\neffect = "allow"\nterritories = ["DE", "FR"]\n')
    assert territory_restrictions(doc, PHONE) == ["*"]


def test_ipv6_addresses_count_per_64_and_ipv4_per_address() -> None:
    assert address_group("2001:db8:1:2::1") == address_group("2001:db8:1:2:ffff::9")
    assert address_group("2001:db8:1:2::1") != address_group("2001:db8:1:3::1")
    assert address_group("192.0.2.1") != address_group("192.0.2.2")
    assert address_group("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_group("testclient") == "testclient"
