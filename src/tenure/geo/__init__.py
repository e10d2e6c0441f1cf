"""Territory signal sources: ISO 3166 codes, SIM MCCs and IP geolocation.

Everything here answers in one vocabulary, ISO 3166-1 alpha-2 (`DE`) or ISO 3166-2
(`UA-43`), so the territory policy can compare signals without knowing their source.
"""

from .ip import (
    EmbeddedLocator,
    GeoDataError,
    IpLocator,
    MaxMindLocator,
    locator_from_settings,
    public_address,
)
from .mcc import country_for_mcc, known_mccs
from .territories import country_of, is_territory, is_within, normalise_territory, preload

__all__ = [
    "EmbeddedLocator",
    "GeoDataError",
    "IpLocator",
    "MaxMindLocator",
    "country_for_mcc",
    "country_of",
    "is_territory",
    "is_within",
    "known_mccs",
    "locator_from_settings",
    "normalise_territory",
    "preload",
    "public_address",
]
