"""Retail sales: what a row of a retailer's sales report must be, whether a retailer
was licensed where and when it sold, and why a licensed sale exempts a device from a
territory rule (docs/retailers.md). Pure: dates and times come in as arguments.

A refused row gets one reason of a small fixed set. Reasons about the row itself
(`invalid-row`, `bad-date`, `future-date`, `bad-territory`, `duplicate`) are checked
first; every reason about the device — unknown, not assigned to this retailer by the
operator, or already sold by another retailer — is the one `not-registrable`, so that
a report reveals nothing about devices the retailer may not see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .model import Device, Sale
from .policy import Policy, sale_exempts, winning_rule
from .provisioning import is_device_id, is_imei
from .territory import Presence, is_within

INVALID_ROW = "invalid-row"
BAD_DATE = "bad-date"
FUTURE_DATE = "future-date"
BAD_TERRITORY = "bad-territory"
NOT_REGISTRABLE = "not-registrable"
DUPLICATE = "duplicate"
REASONS = (INVALID_ROW, BAD_DATE, FUTURE_DATE, BAD_TERRITORY, NOT_REGISTRABLE, DUPLICATE)

EARLIEST = date(2000, 1, 1)  # before this a "sale date" is a typo, not a sale
# A sale dated "today" somewhere on Earth is not in the future: the clock's UTC date is
# up to 14 hours behind the local date of the easternmost time zone (UTC+14).
AHEAD = timedelta(hours=14)


@dataclass(frozen=True, slots=True)
class SaleRow:
    """A row that passed the checks that need no store: the device named by id or IMEI."""

    index: int
    device_id: str | None
    imei: str | None
    sold_on: date
    territory: str


@dataclass(frozen=True, slots=True)
class RowRefused:
    index: int
    reason: str


def latest_sale_date(now: int) -> date:
    """The latest `sold_on` accepted at Unix time `now`: today in UTC+14."""
    return (datetime.fromtimestamp(now, UTC) + AHEAD).date()


def utc_day(at: int) -> date:
    return datetime.fromtimestamp(at, UTC).date()


def read_date(value: object) -> date | None:
    """A `YYYY-MM-DD` calendar date from 2000 on, or None."""
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed >= EARLIEST else None


def read_row(index: int, raw: object, latest: date,
             territory: Callable[[str], str]) -> SaleRow | RowRefused:
    """Check one row: `{"device_id" | "imei", "sold_on", "territory"}`. `territory`
    normalises an ISO 3166 code or raises ValueError."""
    if not isinstance(raw, Mapping):
        return RowRefused(index, INVALID_ROW)
    device_id, imei = raw.get("device_id"), raw.get("imei")
    if (device_id is None) == (imei is None):
        return RowRefused(index, INVALID_ROW)
    if device_id is not None and not (isinstance(device_id, str) and is_device_id(device_id)):
        return RowRefused(index, INVALID_ROW)
    if imei is not None and not (isinstance(imei, str) and is_imei(imei)):
        return RowRefused(index, INVALID_ROW)
    sold_on = read_date(raw.get("sold_on"))
    if sold_on is None:
        return RowRefused(index, BAD_DATE)
    if sold_on > latest:
        return RowRefused(index, FUTURE_DATE)
    code = raw.get("territory")
    if not isinstance(code, str) or not 0 < len(code) <= 16:
        return RowRefused(index, BAD_TERRITORY)
    try:
        normalised = territory(code)
    except ValueError:
        return RowRefused(index, BAD_TERRITORY)
    return SaleRow(index, device_id, imei, sold_on, normalised)


@dataclass(frozen=True, slots=True)
class License:
    """The operator's licence for a retailer to sell into a territory, from `granted_at`
    until `revoked_at` (None: in force)."""

    territory: str
    granted_at: int
    revoked_at: int | None = None


def licensed_on(licenses: Iterable[License], territory: str, sold_on: date) -> bool:
    """Was a licence covering `territory` in force on the day of the sale? A licence
    counts for sales dated from the UTC day it was granted up to the day before the UTC
    day it was revoked; a licence for a country covers its subdivisions."""
    return any(
        is_within(territory, lic.territory) and utc_day(lic.granted_at) <= sold_on
        and (lic.revoked_at is None or sold_on < utc_day(lic.revoked_at))
        for lic in licenses)


def sale_exemptions(policy: Policy, device: Device, presence: Presence,
                    sale: Sale | None) -> tuple[str, ...]:
    """One reason per territory where the device's licensed sale exempted it from the
    rule that would otherwise restrict it there (the decision's reasons say why)."""
    notes = []
    for territory in presence.territories:
        rule = winning_rule(policy, device, territory)
        if rule is not None and rule.effect != "allow" and sale is not None and sale_exempts(
                rule, territory, sale):
            notes.append(
                f"territory policy rule {rule.rule_id!r} ({rule.effect}) in {territory}: "
                f"exempted, sold on {sale.sold_on} in {sale.territory} by retailer "
                f"{sale.retailer}, licensed there on that day")
    return tuple(notes)
