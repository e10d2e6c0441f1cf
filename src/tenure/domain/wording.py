"""Text a person reads, kept in a form any language can be made of.

The domain writes what a lock screen says in English, and keeps beside it how that text
was made: which catalog messages, filled with which values. The services translate it at
the last moment, once the reader's language is known (services/lock_text.py); the domain
itself reads no catalog. Text a person wrote (an owner's lost-mode message, a creditor's
lock message) has no phrase: it is shown as written, in whatever language it was written.
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Marks a catalog message where it is defined (`make i18n` extracts every `N_`);
    it is translated where it is shown."""
    return message


@dataclass(frozen=True, slots=True)
class Phrase:
    """Catalog messages (English msgids with `%(name)s` placeholders), shown one after
    the other with a space between, and the values of their placeholders. Values are
    names, codes and times: they are never translated."""

    messages: tuple[str, ...]
    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, *messages: str, **values: str) -> Phrase:
        return cls(messages, tuple(sorted(values.items())))

    def with_values(self, **values: str) -> Phrase:
        """The same messages with more (or other) values: a time known only later."""
        return Phrase(self.messages, tuple(sorted({**dict(self.values), **values}.items())))

    def english(self) -> str:
        values = dict(self.values)
        return " ".join(m % values if values else m for m in self.messages)
