"""The message catalogs: complete in every language, up to date with the source, and
safe to format. Untranslated text would fall back to English at run time; here it fails
the build instead, so that no language ships half done."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tenure import i18n

SRC = Path(__file__).resolve().parents[2] / "src"
KEYWORDS = {"_": None, "N_": None, "gettext": (2,), "ngettext": (1, 2), "plural": (2, 3)}
METHODS = [("tenure/**.py", "python"), ("tenure/web/templates/**.html", "jinja2")]
OPTIONS = {"tenure/web/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                            "trim_blocks": "True", "lstrip_blocks": "True"}}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(SRC), METHODS, OPTIONS, KEYWORDS):
        found.update([message] if isinstance(message, str) else
                     [m for m in message if m])
    return found


def catalog(locale: str) -> Catalog:
    path = i18n.CATALOGS / locale / "LC_MESSAGES" / "tenure.po"
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def template() -> Catalog:
    with (i18n.CATALOGS / "tenure.pot").open("rb") as source:
        return read_po(source)


def test_the_template_holds_every_message_of_the_source() -> None:
    """`make i18n` was run after the last change of text."""
    missing = source_messages() - {text for m in template() if m.id
                                   for text in ([m.id] if isinstance(m.id, str) else m.id)}
    assert not missing, f"run `make i18n`; not in the catalogs: {sorted(missing)[:10]}"


@pytest.mark.parametrize("locale", [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT])
def test_every_language_translates_every_message(locale: str) -> None:
    untranslated, broken = [], []
    for message in catalog(locale):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strs = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(strs) or message.fuzzy:
            untranslated.append(ids[0])
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strs):
            broken.append(ids[0])
    assert not untranslated, f"{locale}: {len(untranslated)} untranslated: {untranslated[:5]}"
    assert not broken, f"{locale}: placeholders differ from the English: {broken[:5]}"


def test_the_template_and_the_languages_hold_the_same_messages() -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template() if m.id}
    for locale in i18n.LOCALES:
        if locale == i18n.DEFAULT:
            continue
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(locale) if m.id}
        assert have == ids, f"{locale}: run `make i18n` ({sorted(ids ^ have)[:5]})"


def test_right_to_left_languages() -> None:
    assert i18n.direction("ar") == i18n.direction("fa") == "rtl"
    assert i18n.direction("de") == "ltr"


@pytest.mark.parametrize(("header", "expected"), [
    (None, "en"), ("", "en"), ("de-AT,de;q=0.9,en;q=0.5", "de"),
    ("en;q=0.2, fa;q=0.8", "fa"), ("ja, ar-EG;q=0.1", "ar"), ("ja, zh", "en"),
    ("*", "en"), ("fr;q=0", "en"), ("fr;q=abc, es", "es"), ("x" * 5000, "en"),
    (",,;;q=,", "en"), ("ru;q=1.5", "en"),
])
def test_the_browser_language_is_negotiated(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_a_translation_with_wrong_placeholders_falls_back_to_english() -> None:
    assert i18n.gettext("xx", "Until %(when)s", when="Monday") == "Until Monday"
