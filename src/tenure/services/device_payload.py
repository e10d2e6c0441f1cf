"""Reading the members of a device payload; unknown members are ignored (docs/protocol.md)."""

from __future__ import annotations

import re
from typing import Any

from tenure.domain.errors import Malformed
from tenure.i18n import supported

# A BCP 47 language tag as devices send it (`de`, `de-AT`, `zh-Hant-TW`; `_` tolerated):
# letters first, then subtags of letters and digits. At most 35 characters (RFC 5646 §4.4.1).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")


def optional_str(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{name!r} must be a string.")
    return value


def required_str(payload: dict[str, Any], name: str) -> str:
    value = optional_str(payload, name)
    if not value:
        raise Malformed(f"The payload needs a string {name!r}.")
    return value


def signals(payload: dict[str, Any]) -> dict[str, Any]:
    value = payload.get("signals", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed("'signals' must be a JSON object.")
    return value


def string_list(payload: dict[str, Any], name: str) -> list[str]:
    value = payload.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Malformed(f"{name!r} must be a list of strings.")
    return value


def device_locale(payload: dict[str, Any]) -> str | None:
    """The language the device's screen reads (docs/protocol.md, "The device's
    language"): the supported locale its optional `locale` tag names, or None — absent,
    not a string, malformed or a language without a catalog here. Never an error: a
    device that asks for a language we lack still gets its record, in English."""
    value = payload.get("locale")
    if not isinstance(value, str) or len(value) > 35 or not _LANGUAGE_TAG.fullmatch(value):
        return None
    return supported(value)
