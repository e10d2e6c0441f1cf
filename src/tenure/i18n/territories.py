"""The languages of a territory, for explaining a territory lock in the language of the
territory (docs/policy.md, "Messages in several languages")."""

from __future__ import annotations

import functools

from babel.languages import get_official_languages

from . import supported


@functools.cache
def territory_locales(territory: str) -> tuple[str, ...]:
    """The locales this server speaks among the official languages of a territory (an
    ISO 3166-1 code, or a -2 code: its country's), in CLDR's order, most spoken first:
    `IR` → `("fa",)`, `BE` → `("fr", "de")` (Dutch has no catalog here), `UA` → `()`.
    A territory without a de jure official language (`US`) uses its de facto ones."""
    country = territory.split("-", 1)[0].upper()
    if not country.isalpha() or len(country) != 2:
        return ()
    official = (get_official_languages(country)
                or get_official_languages(country, de_facto=True))
    found: list[str] = []
    for language in official:
        locale = supported(language.replace("_", "-"))
        if locale is not None and locale not in found:
            found.append(locale)
    return tuple(found)
