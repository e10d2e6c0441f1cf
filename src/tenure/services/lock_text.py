"""What a lock screen says, in the language of the person reading it.

A device names its language in the optional `locale` member of its signed requests
(docs/protocol.md, "The device's language"). A lock's text is chosen in this order:

1. the versions its author wrote per language (a policy rule's `messages`): the
   device's language, else — for a territory lock — an official language of the
   territory, else the author's English `message`;
2. the catalog messages it was made of, translated into the device's language, else
   (territory lock) the territory's, else English; a message the catalog lacks stays
   English;
3. a person's own words (a lost-mode message, a creditor's lock message) as written.

Catalogs are compiled once per locale and kept (tenure.i18n.translations), and the
territory's languages are looked up once per territory: saying a lock costs no query.
"""

from __future__ import annotations

from typing import Any

from tenure.domain.model import ClaimKind, Lock
from tenure.domain.wording import Phrase
from tenure.i18n import DEFAULT, gettext
from tenure.i18n.territories import territory_locales


def reading_order(locale: str | None, territory: str = "") -> tuple[str, ...]:
    """The languages to try, best first: the device's (a supported locale, or None when
    it named none we speak), then the official languages of `territory`, then English."""
    order = [locale] if locale else []
    if territory:
        order.extend(t for t in territory_locales(territory) if t not in order)
    if DEFAULT not in order:
        order.append(DEFAULT)
    return tuple(order)


def say(phrase: Phrase, locale: str) -> str:
    """A phrase in `locale`; each message the catalog lacks stays English."""
    values: dict[str, Any] = dict(phrase.values)
    return " ".join(gettext(locale, message, **values) for message in phrase.messages)


def choose(order: tuple[str, ...], english: str, phrase: Phrase | None,
           wordings: tuple[tuple[str, str], ...] = ()) -> str:
    """The text in the first language of `order` it exists in (see the module's doc)."""
    if phrase is not None:
        return say(phrase, order[0])
    own = {DEFAULT: english, **dict(wordings)}
    return next((own[language] for language in order if language in own), english)


def lock_message(lock: Lock, locale: str | None) -> str:
    territory = lock.territory if lock.kind is ClaimKind.TERRITORY else ""
    return choose(reading_order(locale, territory), lock.message, lock.phrase, lock.wordings)


def released_if(lock: Lock, locale: str | None) -> str:
    """The way out of a territory lock (a catalog message) in the lock's language."""
    return gettext(reading_order(locale, lock.territory)[0], lock.released_if)
