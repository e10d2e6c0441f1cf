"""Reading the members of a device payload; unknown members are ignored (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from tenure.domain.errors import Malformed


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
