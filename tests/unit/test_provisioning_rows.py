"""validate_row(): one factory row, judged with every problem reported at once.

A factory fixes its export once from the report, so each refusal must say what is
wrong, and a good row must come back exactly as the device will be registered.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.provisioning import FIELDS, ProvisioningRow, validate_row

IMEI_1 = "490154203237518"  # Luhn-valid
IMEI_2 = "356938035643809"  # Luhn-valid
KEY = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="


def row(**changes: str) -> dict[str, str]:
    base = {"device_id": "SN-0001", "imei": IMEI_1, "model": "Phone X", "sku": "PX-128",
            "market": "DE", "public_key": KEY}
    return {**base, **changes}


def problems_of(fields: dict[str, str]) -> list[str]:
    parsed, problems = validate_row(fields)
    assert parsed is None, "a row with problems must not be imported"
    assert problems
    return problems


def test_valid_row_with_one_imei() -> None:
    parsed, problems = validate_row(row())
    assert problems == []
    assert parsed == ProvisioningRow("SN-0001", (IMEI_1,), "Phone X", "PX-128", "DE", KEY)


def test_valid_row_with_two_imeis_separated_by_semicolon() -> None:
    """Dual-SIM phones have two IMEIs; spaces around the separator are tolerated."""
    parsed, problems = validate_row(row(imei=f"{IMEI_1} ; {IMEI_2}"))
    assert problems == []
    assert parsed is not None
    assert parsed.imeis == (IMEI_1, IMEI_2)


def test_surrounding_whitespace_is_trimmed() -> None:
    """Spreadsheet exports pad cells; the stored values must not carry it."""
    parsed, _ = validate_row(row(device_id=" SN-0001 ", model=" Phone X\t", market="DE "))
    assert parsed is not None
    assert (parsed.device_id, parsed.model, parsed.market) == ("SN-0001", "Phone X", "DE")


def test_imei_with_wrong_check_digit_refused() -> None:
    """A typo in an IMEI is caught by the Luhn digit and the message quotes the value."""
    (problem,) = problems_of(row(imei="490154203237519"))
    assert "490154203237519" in problem
    assert "IMEI" in problem


def test_fourteen_digit_imei_refused() -> None:
    """The 14-digit form without check digit is valid elsewhere but not here: 15 digits."""
    (problem,) = problems_of(row(imei=IMEI_1[:14]))
    assert IMEI_1[:14] in problem


def test_three_imeis_refused() -> None:
    problems = problems_of(row(imei=f"{IMEI_1};{IMEI_2};354809100145366"))
    assert any("two" in p for p in problems)


def test_same_imei_twice_in_a_row_refused() -> None:
    problems = problems_of(row(imei=f"{IMEI_1};{IMEI_1}"))
    assert any("twice" in p for p in problems)


@pytest.mark.parametrize("device_id", ["SN/0001", "SN 0001", "-SN0001", "SN0001é", "S" * 65])
def test_bad_device_id_refused(device_id: str) -> None:
    """The id becomes a JWS `kid` and a URL path segment: a strict alphabet and length."""
    (problem,) = problems_of(row(device_id=device_id))
    assert "device_id" in problem


def test_device_id_of_64_characters_accepted() -> None:
    parsed, problems = validate_row(row(device_id="S" * 64))
    assert problems == [] and parsed is not None


def test_too_long_model_refused_but_64_accepted() -> None:
    (problem,) = problems_of(row(model="M" * 65))
    assert "model" in problem and "64" in problem
    parsed, _ = validate_row(row(model="M" * 64))
    assert parsed is not None


def test_bad_market_refused() -> None:
    (problem,) = problems_of(row(market="DE/BE"))
    assert "market" in problem


def test_missing_fields_listed_together() -> None:
    """Several empty cells give one message naming all of them, in column order."""
    problems = problems_of(row(model="", sku="  ", public_key=""))
    assert problems == ["missing model, sku, public_key"]


def test_empty_row_names_every_field() -> None:
    (problem,) = problems_of({})
    for name in FIELDS:
        assert name in problem


def test_all_problems_reported_at_once() -> None:
    """Bad IMEI, bad device id and a missing field in one row: three problems, one pass."""
    problems = problems_of(row(device_id="bad id", imei="123", sku=""))
    assert len(problems) == 3
    text = " | ".join(problems)
    assert "sku" in text and "device_id" in text and "'123'" in text


@pytest.mark.parametrize("imei", [";", " ; "])
def test_imei_cell_of_only_separators_is_missing(imei: str) -> None:
    """An empty imei cell is refused as missing; one holding only ';' must be too."""
    parsed, problems = validate_row(row(imei=imei))
    assert parsed is None
    assert any("imei" in p.lower() for p in problems)


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
@settings(max_examples=2000)
def test_fast_imei_check_agrees_with_python_stdnum(value: str) -> None:
    """The import's own Luhn check must say exactly what python-stdnum says."""
    from stdnum import imei

    from tenure.domain.provisioning import is_imei

    assert is_imei(value) == imei.is_valid(value)


@pytest.mark.parametrize("value", ["35209900176148", "3520990017614810", "35209900176148a",
                                   "３５２０９９００１７６１４８１", " 352099001761481"])
def test_imei_check_refuses_wrong_lengths_and_non_ascii_digits(value: str) -> None:
    from tenure.domain.provisioning import is_imei

    assert not is_imei(value)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("model", "A\x00B", "model contains the control character U+0000"),
    ("sku", "S\ud800", "sku contains an unpaired surrogate (not a character)"),
    ("model", "M\x07\x1b[2J", "model contains the control character U+0007"),
    ("sku", "a\x85b", "sku contains the control character U+0085")])
def test_model_and_sku_are_text_a_lock_screen_can_show(field: str, value: str,
                                                       says: str) -> None:
    """A NUL cannot be stored in PostgreSQL text, a lone surrogate in any UTF-8 column,
    and escape codes rewrite screens: the row is refused by line, never a crash."""
    parsed, problems = validate_row(row(**{field: value}))
    assert parsed is None and problems == [says]
