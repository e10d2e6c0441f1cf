"""Validation of one provisioning row (the factory's record of a device), minus its key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import imei as stdnum_imei  # pure validation library, no I/O

FIELDS = ("device_id", "imei", "model", "sku", "market", "public_key")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_MARKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_TEXT = 64


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
    """Return the row, or every problem with it (a factory fixes a file once, not per error)."""
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
        if not (len(value) == 15 and stdnum_imei.is_valid(value)):
            problems.append(f"invalid IMEI {value!r} (15 digits with a Luhn check digit)")
    if len(set(imeis)) != len(imeis):
        problems.append("the same IMEI twice")
    for name in ("model", "sku"):
        if len((fields.get(name) or "").strip()) > MAX_TEXT:
            problems.append(f"{name} longer than {MAX_TEXT} characters")
    market = (fields.get("market") or "").strip()
    if market and not _MARKET.match(market):
        problems.append("market must be 1-32 letters, digits, _ or -")
    if problems:
        return None, problems
    return (
        ProvisioningRow(
            device_id=device_id,
            imeis=imeis,
            model=fields["model"].strip(),
            sku=fields["sku"].strip(),
            market=market,
            public_key=fields["public_key"].strip(),
        ),
        [],
    )
