"""ISO 3166 territory codes: the one vocabulary every territory signal is reported in.

A territory is an ISO 3166-1 alpha-2 country (`DE`) or an ISO 3166-2 subdivision
(`UA-43`, Crimea). Policies, MCCs and IP locators all speak this vocabulary, so a code
is validated once, here, against `pycountry`'s copy of the standard.

pycountry parses its JSON databases on first use (~50 ms for the 5,000 subdivisions)
and its lookups are slower than a set probe, and these functions sit on the device hot
path. So the known codes are read once into frozen sets (thread-safe, lazily, or
eagerly through `preload()` at start-up), after which every call is a dict/set probe.

Containment is deliberately the same as `tenure.domain.territory.is_within`: a code is
within itself and a subdivision is within its country; nested subdivisions (`ES-M`
inside `ES-MD`) are not related, so both helpers always agree.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_countries: frozenset[str] | None = None
_subdivisions: frozenset[str] | None = None


def _load() -> tuple[frozenset[str], frozenset[str]]:
    """Read pycountry once; imported here so that importing tenure.geo stays cheap."""
    global _countries, _subdivisions
    if _countries is not None and _subdivisions is not None:
        return _countries, _subdivisions
    with _lock:
        if _countries is None or _subdivisions is None:
            import pycountry

            _subdivisions = frozenset(s.code.upper() for s in pycountry.subdivisions)
            _countries = frozenset(c.alpha_2.upper() for c in pycountry.countries)
        return _countries, _subdivisions


def preload() -> None:
    """Pay pycountry's parse cost at start-up instead of on the first device request."""
    _load()


def normalise_territory(code: str) -> str:
    """`"de"` → `"DE"`, `"ua-43"` → `"UA-43"`; anything not in ISO 3166-1/-2 raises.

    Raises ValueError (with a message fit to show an operator or a problem+json
    `detail`) rather than returning None: an unknown code in a policy or a request is
    a mistake to report, not an "unknown territory".
    """
    if not isinstance(code, str):
        raise ValueError(f"territory code must be a string, not {type(code).__name__}")
    candidate = code.strip().upper()
    countries, subdivisions = _load()
    if candidate in countries or candidate in subdivisions:
        return candidate
    raise ValueError(
        f"unknown territory code {code!r}: expected an ISO 3166-1 alpha-2 country code "
        "such as 'DE' or an ISO 3166-2 subdivision code such as 'UA-43'"
    )


def is_territory(code: str) -> bool:
    """True when `normalise_territory` would accept the code (for filters, no raising)."""
    try:
        normalise_territory(code)
    except ValueError:
        return False
    return True


def country_of(code: str) -> str:
    """The ISO 3166-1 country of a territory: `UA-43` → `UA`, `DE` → `DE`."""
    return normalise_territory(code).split("-", 1)[0]


def is_within(code: str, territory: str) -> bool:
    """`UA-43` is within `UA` and within itself; `UA` is not within `UA-43`.

    Both codes are validated (ValueError for unknown ones), so a typo in a policy can
    never silently match nothing.
    """
    inner = normalise_territory(code)
    outer = normalise_territory(territory)
    if inner == outer:
        return True
    return "-" not in outer and inner.split("-", 1)[0] == outer
