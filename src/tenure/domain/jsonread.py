"""The one JSON reader for everything that arrives from outside: request bodies, JWS
headers and payloads, tokens.

Python's `json` accepts what a hostile client can turn into a crash: nesting deep
enough to exhaust the recursion limit (RecursionError), integers of thousands of
digits (ValueError past 4,300 digits, and quadratic conversion time below that), and
`NaN`/`Infinity`, which are not JSON (RFC 8259 §6) and poison arithmetic. This
reader refuses all three before any of it reaches logic, with one exception type the
callers turn into their own "malformed" answer.

Limits: nesting at most `MAX_DEPTH` containers; numbers of at most
`MAX_NUMBER_DIGITS` digits (every 64-bit integer fits; a service checks the range a
field allows) and finite; text strictly UTF-8.
`check_tree` applies the same limits to a document decoded by another parser (TOML).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 20
_INT_LIMIT = 10**MAX_NUMBER_DIGITS

# A JSON string literal, unrolled so that matching is linear even when it is unterminated.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonRejected(ValueError):
    """Not JSON this service reads: invalid, too deep, a number too large, not UTF-8."""


def _reject_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number")


def _read_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise JsonRejected("a number has too many digits")
    return int(text)


def _read_float(text: str) -> float:
    if sum(ch.isdigit() for ch in text) > MAX_NUMBER_DIGITS:
        raise JsonRejected("a number has too many digits")
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected("a number is out of range")
    return value


# One decoder for every read: `json.loads` with hooks builds a decoder and its scanner
# on each call, which showed in the device path's profile (decision 0022). Shared
# across threads, as the json module shares its own default decoder.
_DECODER = json.JSONDecoder(parse_int=_read_int, parse_float=_read_float,
                            parse_constant=_reject_constant)


def _check_nesting(text: str, max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` without recursing.

    Most documents have fewer opening brackets than the limit in total and skip the
    scan; the others are scanned once with strings blanked out, so that brackets
    inside text do not count.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonRejected(f"nesting deeper than {max_depth} levels")
        else:
            depth = max(0, depth - 1)


def read_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one JSON value within the limits above; JsonRejected otherwise."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRejected("not UTF-8") from exc
    else:
        text = data
    _check_nesting(text, max_depth)
    try:
        return _DECODER.decode(text)
    except JsonRejected:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise JsonRejected(f"not JSON ({exc})") from exc


def read_json_object(data: bytes | str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    value = read_json(data, max_depth)
    if not isinstance(value, dict):
        raise JsonRejected("not a JSON object")
    return value


def check_tree(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Apply the reader's depth and number limits to an already decoded document
    (TOML), iteratively, so that a deep document cannot exhaust the stack here either."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise JsonRejected(f"nesting deeper than {max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if abs(item) >= _INT_LIMIT:
                raise JsonRejected("a number has too many digits")
        elif isinstance(item, float) and not math.isfinite(item):
            raise JsonRejected("a number is not finite")
