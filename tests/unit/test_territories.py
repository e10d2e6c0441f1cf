"""ISO 3166 codes: the vocabulary every territory signal and policy rule is written in.

A typo in a policy ("UA-34") or a request must be refused loudly, never match nothing.
"""

from __future__ import annotations

import pytest

from tenure.domain import territory as domain_territory
from tenure.geo import country_of, is_territory, is_within, normalise_territory, preload


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("Ir", "IR"),
        ("KP", "KP"),
        ("UA-43", "UA-43"),
        ("ua-43", "UA-43"),
        ("UA-40", "UA-40"),
        ("gb-eng", "GB-ENG"),
        (" cu ", "CU"),
    ],
)
def test_normalises_countries_and_subdivisions(code: str, expected: str) -> None:
    assert normalise_territory(code) == expected


@pytest.mark.parametrize(
    "code", ["", "D", "XX", "XK", "EU", "DEU", "276", "UA-99", "UA43", "UA_43", "-43", "UA-"]
)
def test_unknown_codes_raise_a_readable_error(code: str) -> None:
    with pytest.raises(ValueError, match="unknown territory code") as info:
        normalise_territory(code)
    assert "ISO 3166" in str(info.value)
    assert repr(code) in str(info.value)
    assert not is_territory(code)


def test_non_string_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        normalise_territory(276)  # type: ignore[arg-type]


def test_country_of() -> None:
    assert country_of("UA-43") == "UA"
    assert country_of("ua-40") == "UA"
    assert country_of("de") == "DE"
    with pytest.raises(ValueError):
        country_of("ZZ-1")


@pytest.mark.parametrize(
    ("code", "territory", "expected"),
    [
        ("UA-43", "UA", True),
        ("UA-43", "UA-43", True),
        ("ua-43", "UA", True),
        ("UA", "UA", True),
        ("UA", "UA-43", False),
        ("UA-40", "UA-43", False),
        ("UA-43", "RU", False),
        ("DE", "UA", False),
        ("ES-M", "ES-MD", False),  # nested subdivisions: same rule as the domain
    ],
)
def test_is_within(code: str, territory: str, expected: bool) -> None:
    assert is_within(code, territory) is expected
    assert domain_territory.is_within(code.upper(), territory.upper()) is expected


def test_is_within_refuses_unknown_codes() -> None:
    with pytest.raises(ValueError):
        is_within("UA-43", "UK")
    with pytest.raises(ValueError):
        is_within("XX", "UA")


def test_lookups_are_cheap_after_preload() -> None:
    """On the device hot path: a set probe, not a pycountry search."""
    import time

    preload()
    start = time.perf_counter()
    for _ in range(10_000):
        normalise_territory("ua-43")
    per_call = (time.perf_counter() - start) / 10_000
    assert per_call < 50e-6
