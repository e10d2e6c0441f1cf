"""Validation of one provisioning row (the factory's record of a device), minus its key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import SINGLE_LINE_BAD, text_problem

FIELDS = ("device_id", "imei", "model", "sku", "market", "public_key")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_MARKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_TEXT = 64


# Luhn doubles every second digit from the right and adds the digits of the product:
# 0→0 1→2 2→4 3→6 4→8 5→1 6→3 7→5 8→7 9→9. As bytes: summing a bytes object adds its
# byte values in C; the 15 ASCII offsets (48 each) are taken off once.
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")
_ASCII_ZEROS = 15 * ord("0")


def is_imei(value: str) -> bool:
    """15 ASCII digits whose last is the Luhn check digit (3GPP TS 23.003).

    The same answer as python-stdnum's imei.is_valid for 15-digit input (a property
    test holds them equal), at a twentieth of the cost: imports check millions of rows.
    """
    if len(value) != 15 or not value.isascii() or not value.isdigit():
        return False
    digits = value.encode("ascii")
    return (sum(digits[-1::-2]) + sum(digits[-2::-2].translate(_DOUBLED))
            - _ASCII_ZEROS) % 10 == 0


@dataclass(frozen=True, slots=True)
class ProvisioningRow:
    device_id: str
    imeis: tuple[str, ...]
    model: str
    sku: str
    market: str
    public_key: str  # as given; parsed by the crypto layer


def is_device_id(value: object) -> bool:
    """Whether `value` could name a device at all (checked before any lookup)."""
    return isinstance(value, str) and bool(_DEVICE_ID.match(value))


def validate_row(fields: dict[str, str]) -> tuple[ProvisioningRow | None, list[str]]:
    """Return the row, or every problem with it (a factory fixes a file once, not per error).

    Valid rows — nearly all of a factory file — take a fast path that checks the same
    rules without collecting problems; any doubt falls through to the full listing.
    """
    get = fields.get
    device_id = (get("device_id") or "").strip()
    model = (get("model") or "").strip()
    sku = (get("sku") or "").strip()
    market = (get("market") or "").strip()
    key = (get("public_key") or "").strip()
    cell = get("imei") or ""
    if ";" in cell:
        imeis = tuple(p for p in (part.strip() for part in cell.split(";")) if p)
    else:
        cell = cell.strip()
        imeis = (cell,) if cell else ()
    # The same rules as _problems (text_problem inlined for stripped, non-empty text).
    if (device_id and model and sku and market and key and 0 < len(imeis) <= 2
            and len(model) <= MAX_TEXT and len(sku) <= MAX_TEXT
            and SINGLE_LINE_BAD.search(model) is None and SINGLE_LINE_BAD.search(sku) is None
            and _DEVICE_ID.match(device_id) and _MARKET.match(market)
            and is_imei(imeis[0]) and (len(imeis) == 1
                                       or (is_imei(imeis[1]) and imeis[0] != imeis[1]))):
        return ProvisioningRow(device_id, imeis, model, sku, market, key), []
    return None, _problems(fields)


def _problems(fields: dict[str, str]) -> list[str]:
    problems: list[str] = []
    missing = [name for name in FIELDS if not (fields.get(name) or "").strip()]
    if missing:
        problems.append("missing " + ", ".join(missing))
    device_id = (fields.get("device_id") or "").strip()
    if device_id and not _DEVICE_ID.match(device_id):
        problems.append(
            "device_id must be 1-64 letters, digits or . _ : - (starting with a letter or digit)"
        )
    imeis = tuple(part.strip() for part in (fields.get("imei") or "").split(";") if part.strip())
    if not imeis and "imei" not in " ".join(problems):
        problems.append("missing imei")
    if len(imeis) > 2:
        problems.append("at most two IMEIs")
    for value in imeis:
        if not is_imei(value):
            problems.append(f"invalid IMEI {value!r} (15 digits with a Luhn check digit)")
    if len(set(imeis)) != len(imeis):
        problems.append("the same IMEI twice")
    for name in ("model", "sku"):
        value = (fields.get(name) or "").strip()
        # The one text rule: no control characters or lone surrogates reach a screen
        # or a database that cannot hold them (a NUL in PostgreSQL text).
        problem = text_problem(value, max_length=MAX_TEXT) if value else None
        if problem is not None:
            problems.append(f"{name} {problem}")
    market = (fields.get("market") or "").strip()
    if market and not _MARKET.match(market):
        problems.append("market must be 1-32 letters, digits, _ or -")
    return problems or ["invalid row"]
