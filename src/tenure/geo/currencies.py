"""ISO 4217 currency codes (a purchase's currency in an appeal case)."""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def _codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_currency(code: object) -> bool:
    """True for an active ISO 4217 alphabetic code, upper case as written (EUR, USD)."""
    return isinstance(code, str) and code in _codes()
