"""Message catalogs: everything a person reads (pages, mails, lock screens) in their
language.

The catalogs are gettext `.po` files under `locales/`, edited by translators and
compiled in memory on first use (Babel reads and compiles them), so that a stale
binary `.mo` file can never disagree with its source. A message missing from a
catalog, or translated as an empty string, falls back to the English text: a person
may read English, never a blank.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT = "en"
# English plus the languages of the seeds' owners and of the territories their locks hit.
LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "ru", "ar", "fa")
RIGHT_TO_LEFT = frozenset({"ar", "fa"})
NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español",
         "ru": "Русский", "ar": "العربية", "fa": "فارسی"}
DOMAIN = "tenure"
CATALOGS = Path(__file__).parent / "locales"


def direction(locale: str) -> str:
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"


def supported(tag: object) -> str | None:
    """The supported locale a language tag names (`de-AT` → `de`), or None."""
    if not isinstance(tag, str) or len(tag) > 35:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The best supported locale of an `Accept-Language` header (RFC 9110 §12.5.4),
    English when none matches. Hostile headers are bounded, never an error."""
    if not accept_language:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language[:1024].split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = supported(tag)
        if found and 0 < quality <= 1:
            ranked.append((-quality, index, found))
    return min(ranked)[2] if ranked else DEFAULT


@functools.cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of a locale; English (no catalog) and unknown locales get
    the identity translation."""
    path = CATALOGS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or locale not in LOCALES or not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)


def gettext(locale: str, message: str, **params: object) -> str:
    """`message` in `locale`, with `%(name)s` parameters filled in. A translation
    whose parameters do not match the English falls back to English."""
    translated = translations(locale).gettext(message) or message
    if not params:
        return translated
    try:
        return translated % params
    except (KeyError, ValueError, TypeError):
        return message % params


def plural(locale: str, one: str, many: str, n: int, **params: object) -> str:
    """`one` or `many` in `locale`, by the language's plural rule for `n` (`%(num)d`)."""
    translated = translations(locale).ngettext(one, many, n)
    params = {"num": n, **params}
    try:
        return translated % params
    except (KeyError, ValueError, TypeError):
        return (one if n == 1 else many) % params


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Marks a message for extraction where it is defined; it is translated where shown."""
    return message
