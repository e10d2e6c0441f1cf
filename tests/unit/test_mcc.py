"""SIM mobile country codes → countries, from the package's own E.212 table."""

from __future__ import annotations

import csv
from importlib import resources

import pycountry
import pytest

from tenure.geo import country_for_mcc, known_mccs


def _rows() -> list[dict[str, str]]:
    text = resources.files("tenure.geo").joinpath("data/mcc.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize(
    ("mcc", "country"),
    [
        ("262", "DE"), ("208", "FR"), ("234", "GB"), ("235", "GB"),
        ("310", "US"), ("311", "US"), ("312", "US"), ("313", "US"), ("314", "US"),
        ("315", "US"), ("316", "US"), ("302", "CA"), ("404", "IN"), ("405", "IN"),
        ("406", "IN"), ("432", "IR"), ("467", "KP"), ("417", "SY"), ("368", "CU"),
        ("255", "UA"), ("250", "RU"), ("460", "CN"), ("461", "CN"), ("440", "JP"),
        ("441", "JP"), ("450", "KR"), ("724", "BR"), ("655", "ZA"), ("505", "AU"),
    ],
)
def test_known_mccs(mcc: str, country: str) -> None:
    assert country_for_mcc(mcc) == country


@pytest.mark.parametrize("mcc", ["000", "001", "999", "901", "221", "100", "899"])
def test_unassigned_or_non_country_mccs_are_none(mcc: str) -> None:
    assert country_for_mcc(mcc) is None


@pytest.mark.parametrize(
    "mcc", ["", "26", "abc", "2620", " 262", "262 ", "26a", "２６２", "-262", "262.0"]
)
def test_malformed_mccs_are_none(mcc: str) -> None:
    assert country_for_mcc(mcc) is None


@pytest.mark.parametrize("mcc", [262, None, b"262", ["262"]])
def test_non_strings_are_none_not_errors(mcc: object) -> None:
    assert country_for_mcc(mcc) is None  # type: ignore[arg-type]


def test_table_is_complete_enough() -> None:
    """The E.212 list assigns about 240 MCCs to countries."""
    assert 230 <= len(known_mccs()) <= 250


def test_every_country_is_an_iso_3166_1_alpha_2_code() -> None:
    iso = {c.alpha_2 for c in pycountry.countries}
    unknown = {row["country"] for row in _rows()} - iso
    assert not unknown


def test_csv_has_its_header_and_no_duplicate_mcc() -> None:
    rows = _rows()
    mccs = [row["mcc"] for row in rows]
    assert list(rows[0]) == ["mcc", "country"]
    assert len(mccs) == len(set(mccs))
    assert all(len(m) == 3 and m.isdigit() for m in mccs)
    assert len(rows) == len(known_mccs())


def test_known_mccs_is_a_copy() -> None:
    table = known_mccs()
    table["262"] = "FR"
    assert country_for_mcc("262") == "DE"
