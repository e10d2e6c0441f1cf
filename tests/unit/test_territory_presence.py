"""Where the server takes a device to be: territory evidence combined into presence.

A traveller with a VPN, a SIM from home, or a GNSS fix that cannot say which region it
is in must not be placed in a restricted territory on one weak signal when the policy
asks for corroboration; these tests pin the combination rules a user's lock depends on.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.model import TerritoryEvidence
from tenure.domain.territory import locate, present_in

Source = tuple[str, str]


def evidence(*sources: Source) -> TerritoryEvidence:
    return TerritoryEvidence(tuple(sources))


# -- one source, two sources -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["any", "corroborated"])
@pytest.mark.parametrize("source", ["ip", "sim", "gnss"])
def test_a_single_source_counts_when_it_is_the_only_one(mode: str, source: str) -> None:
    """With only one signal available, corroboration cannot be had; that signal decides."""
    seen = evidence((source, "IR"))
    assert present_in("IR", seen, mode)
    assert not present_in("DE", seen, mode)
    assert locate(seen, mode).territories == ("IR",)


@pytest.mark.parametrize("mode", ["any", "corroborated"])
def test_two_agreeing_sources_place_the_device(mode: str) -> None:
    seen = evidence(("ip", "IR"), ("sim", "IR"))
    assert present_in("IR", seen, mode)
    assert locate(seen, mode).territories == ("IR",)


def test_one_of_two_disagreeing_sources_suffices_under_any_but_not_corroborated() -> None:
    """`any` takes every source at its word; `corroborated` needs agreement."""
    seen = evidence(("ip", "IR"), ("sim", "DE"))
    assert present_in("IR", seen, "any") and present_in("DE", seen, "any")
    assert not present_in("IR", seen, "corroborated")
    assert not present_in("DE", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ()
    assert locate(seen, "any").territories == ("DE", "IR")


def test_vpn_exit_in_a_restricted_country_is_outvoted_by_sim_and_gnss() -> None:
    """The VPN case: the IP says IR, the SIM and GNSS say DE."""
    seen = evidence(("ip", "IR"), ("sim", "DE"), ("gnss", "DE"))
    assert not present_in("IR", seen, "corroborated")
    assert present_in("DE", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("DE",)
    # `any` is the maker's explicit choice to act on a single signal.
    assert present_in("IR", seen, "any")
    assert locate(seen, "any").territories == ("DE", "IR")


def test_default_mode_is_corroborated() -> None:
    seen = evidence(("ip", "IR"), ("sim", "DE"), ("gnss", "DE"))
    assert locate(seen).mode == "corroborated"
    assert locate(seen).territories == ("DE",)


def test_two_sims_are_one_source_not_two_agreeing_ones() -> None:
    """Two SIMs from the same country are not independent corroboration of anything the IP
    and GNSS contradict."""
    seen = evidence(("sim", "IR"), ("sim", "IR"), ("ip", "DE"), ("gnss", "DE"))
    assert not present_in("IR", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("DE",)


# -- subdivisions -------------------------------------------------------------------------


def test_sim_cannot_speak_to_a_subdivision_so_the_ip_decides() -> None:
    """A Ukrainian MCC cannot tell Crimea from Kyiv; the IP's UA-43 is the only relevant
    report on UA-43, and the SIM corroborates the country."""
    seen = evidence(("ip", "UA-43"), ("sim", "UA"))
    assert present_in("UA-43", seen, "corroborated")
    assert present_in("UA", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("UA-43",)


def test_disagreeing_subdivisions_place_the_device_only_in_the_country() -> None:
    """IP in Crimea, GNSS in Kyiv, SIM Ukrainian: in Ukraine for sure, in Crimea not."""
    seen = evidence(("ip", "UA-43"), ("gnss", "UA-30"), ("sim", "UA"))
    assert not present_in("UA-43", seen, "corroborated")
    assert not present_in("UA-30", seen, "corroborated")
    assert present_in("UA", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("UA",)
    assert locate(seen, "any").territories == ("UA-30", "UA-43")


def test_only_the_finest_territories_are_reported() -> None:
    """UA-43 already says UA; reporting both would double-count one place."""
    seen = evidence(("ip", "UA-43"), ("gnss", "UA-43"), ("sim", "UA"))
    for mode in ("any", "corroborated"):
        presence = locate(seen, mode)
        assert presence.territories == ("UA-43",)
        assert present_in("UA", seen, mode)


def test_subdivisions_come_before_countries() -> None:
    seen = evidence(("ip", "UA-43"), ("sim", "DE"))
    assert locate(seen, "any").territories == ("UA-43", "DE")


def test_a_country_report_is_not_within_a_subdivision() -> None:
    """A SIM saying UA never places a device in Crimea by itself."""
    seen = evidence(("sim", "UA"))
    for mode in ("any", "corroborated"):
        assert not present_in("UA-43", seen, mode)
        assert locate(seen, mode).territories == ("UA",)


def test_vpn_exit_in_a_restricted_subdivision_is_outvoted_by_sim_and_gnss() -> None:
    """The VPN case one level down: an IP geolocated to Crimea, a German SIM and a GNSS fix
    in Germany. The SIM and GNSS cannot name a subdivision, but they do contradict the
    country, so the device is not corroborated in UA-43 (nor in UA)."""
    seen = evidence(("ip", "UA-43"), ("sim", "DE"), ("gnss", "DE"))
    assert not present_in("UA", seen, "corroborated")
    assert not present_in("UA-43", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("DE",)


# -- unknown ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["any", "corroborated"])
def test_unknown_sources_never_place_the_device_anywhere(mode: str) -> None:
    seen = evidence(("ip", ""), ("sim", ""), ("gnss", ""))
    assert locate(seen, mode).territories == ()
    assert not present_in("IR", seen, mode)


def test_an_unknown_source_does_not_count_as_a_disagreeing_one() -> None:
    """Unknown is neither restricted nor a vote against: the one known signal decides."""
    seen = evidence(("ip", "IR"), ("sim", ""), ("gnss", ""))
    assert present_in("IR", seen, "corroborated")
    assert locate(seen, "corroborated").territories == ("IR",)


def test_presence_explains_its_evidence() -> None:
    seen = evidence(("sim", "DE"), ("ip", "IR"), ("gnss", "DE"))
    assert locate(seen).explain() == ["gnss:DE", "ip:IR", "sim:DE"]


# -- properties ---------------------------------------------------------------------------

CODES = ["", "DE", "IR", "KP", "UA", "UA-43", "UA-30", "UA-40", "DE-BE"]
TERRITORIES = [c for c in CODES if c]
sources = st.tuples(st.sampled_from(["ip", "sim", "gnss"]), st.sampled_from(CODES))
evidences = st.lists(sources, max_size=5).map(lambda s: TerritoryEvidence(tuple(s)))
modes = st.sampled_from(["any", "corroborated"])


def _within(code: str, territory: str) -> bool:
    return code == territory or ("-" not in territory and code.split("-")[0] == territory)


@settings(max_examples=200, deadline=None)
@given(seen=evidences, source=st.sampled_from(["ip", "sim", "gnss"]), data=st.data())
def test_adding_an_agreeing_source_never_removes_a_territory_under_any(
    seen: TerritoryEvidence, source: str, data: st.DataObject
) -> None:
    before = locate(seen, "any").territories
    if not before:
        return
    where = data.draw(st.sampled_from(before))
    agreeing = data.draw(st.sampled_from([c for c in TERRITORIES if _within(c, where)]))
    more = TerritoryEvidence(seen.sources + ((source, agreeing),))
    after = locate(more, "any").territories
    for territory in before:
        assert present_in(territory, more, "any")
        # still reported, possibly refined to a subdivision within it
        assert any(_within(t, territory) for t in after), (before, after)


@settings(max_examples=300, deadline=None)
@given(seen=evidences)
def test_corroborated_presence_is_a_subset_of_any(seen: TerritoryEvidence) -> None:
    for territory in TERRITORIES:
        if present_in(territory, seen, "corroborated"):
            assert present_in(territory, seen, "any")
    for territory in locate(seen, "corroborated").territories:
        assert present_in(territory, seen, "any")


@settings(max_examples=100, deadline=None)
@given(unknown=st.lists(st.sampled_from(["ip", "sim", "gnss"]), max_size=4), mode=modes)
def test_with_no_evidence_nothing_is_present(unknown: list[str], mode: str) -> None:
    seen = TerritoryEvidence(tuple((source, "") for source in unknown))
    assert locate(seen, mode).territories == ()
    assert not any(present_in(t, seen, mode) for t in TERRITORIES)


@settings(max_examples=300, deadline=None)
@given(seen=evidences, mode=modes)
def test_located_territories_are_present_and_none_contains_another(
    seen: TerritoryEvidence, mode: str
) -> None:
    found = locate(seen, mode).territories
    assert all(present_in(t, seen, mode) for t in found)
    assert not any(a != b and _within(a, b) for a in found for b in found)
    reported = {c for _, c in seen.sources if c}
    assert all(any(_within(c, t) for c in reported) for t in found)
