"""Reading an applicant's case: the device, the kind, the statement and the purchase.

Pure: the currency check is passed in (ISO 4217 comes from a data package the domain
does not import). Every refusal names the field, as `422 invalid-input`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .cases import CaseKind
from .errors import InvalidInput
from .text import clean_text

MAX_STATEMENT = 5000
MAX_SELLER = 200
MAX_OBJECTION = 5000
_PRICE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,4})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_IMEI = re.compile(r"[0-9]{15}")


@dataclass(frozen=True, slots=True)
class CaseRequest:
    device_id: str | None
    imei: str | None
    kind: CaseKind
    statement: str
    purchase: dict[str, str]
    appeal_token: object


def read_case_request(data: Mapping[str, Any], is_currency: Callable[[object], bool],
                      today: datetime.date) -> CaseRequest:
    device_id, imei = data.get("device_id"), data.get("imei")
    if (device_id is None) == (imei is None):
        raise InvalidInput("Name the device with exactly one of 'device_id' or 'imei'.")
    if device_id is not None and (not isinstance(device_id, str) or not 0 < len(device_id) <= 64):
        raise InvalidInput("'device_id' must be the device's id (at most 64 characters).")
    if imei is not None and (not isinstance(imei, str) or not _IMEI.fullmatch(imei)):
        raise InvalidInput("'imei' must be 15 digits.")
    try:
        kind = CaseKind(str(data.get("kind")))
    except ValueError as exc:
        raise InvalidInput("'kind' must be one of: "
                           + ", ".join(k.value for k in CaseKind) + ".") from exc
    statement = clean_text(data.get("statement"), "statement", max_length=MAX_STATEMENT,
                           multiline=True)
    return CaseRequest(device_id, imei, kind, statement,
                       read_purchase(data.get("purchase"), is_currency, today),
                       data.get("appeal_token"))


def read_purchase(value: object, is_currency: Callable[[object], bool],
                  today: datetime.date) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInput("'purchase' must be an object {date, seller, price, currency}.")
    date = value.get("date")
    if not isinstance(date, str) or not _DATE.fullmatch(date):
        raise InvalidInput("'purchase.date' must be a date written YYYY-MM-DD.")
    try:
        day = datetime.date.fromisoformat(date)
    except ValueError as exc:
        raise InvalidInput(f"'purchase.date' is not a date: {date}.") from exc
    if day > today:
        raise InvalidInput("'purchase.date' is in the future.")
    seller = clean_text(value.get("seller"), "purchase.seller", max_length=MAX_SELLER)
    price = value.get("price")
    if not isinstance(price, str) or not _PRICE.fullmatch(price):
        raise InvalidInput("'purchase.price' must be a decimal number written as a string, "
                           "such as \"249.00\".")
    currency = value.get("currency")
    if not is_currency(currency):
        raise InvalidInput("'purchase.currency' must be an ISO 4217 code such as EUR or USD.")
    return {"date": date, "seller": seller, "price": price, "currency": str(currency)}
