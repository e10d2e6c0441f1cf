"""A temporary message catalog for tests that prove translation flows end to end.

The real catalogs under src/tenure/i18n/locales are filled by translators at the end
of a change; a test cannot wait for them. This writes a small real `.po` file (Babel's
writer) into a temporary directory and points `tenure.i18n.CATALOGS` at it, so the
code under test reads and compiles it exactly as it reads the shipped ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from tenure import i18n

WriteCatalog = Callable[[str, dict[str, str]], None]


@pytest.fixture
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteCatalog]:
    """`catalogs(locale, {english: translation})` writes that locale's catalog; every
    other locale has none (its texts fall back to English)."""
    root = tmp_path / "locales"
    monkeypatch.setattr(i18n, "CATALOGS", root)
    i18n.translations.cache_clear()

    def write(locale: str, entries: dict[str, str]) -> None:
        catalog = Catalog(locale=locale, domain=i18n.DOMAIN)
        for english, translated in entries.items():
            catalog.add(english, translated)
        path = root / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog)
        i18n.translations.cache_clear()

    yield write
    i18n.translations.cache_clear()  # the shipped catalogs again, once CATALOGS is back
