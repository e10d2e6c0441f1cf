"""What the device's screen says about a verified record: one renderer per lock kind.

Each kind of lock asks something different of the person holding the device — call the
owner who lost it, pay the creditor (while emergency calls still work), enter the
organization's code, travel, or sign in — so each kind has its own lines, chosen from a
table rather than a chain of conditions; a kind this agent does not know still shows its
message and contact (docs/protocol.md: record `locks[]`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Lines = list[str]

# What each kind of lock is, in the owner's words (docs/protocol.md: record `locks[].kind`).
LOCK_NAMES = {
    "owner": "activation lock of the owner's account",
    "lost": "reported lost",
    "organization": "held by an organization",
    "creditor": "locked by a creditor",
    "territory": "territory policy of the manufacturer",
}


def iso_utc(at: int) -> str:
    """A Unix time as ISO 8601 in UTC, the form scripts and people both read."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def when(at: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def _head(lock: dict[str, Any]) -> Lines:
    return [f"  [{lock.get('kind', '?')}] {lock.get('message', '')}"]


def _contact(lock: dict[str, Any]) -> Lines:
    return [f"    Contact: {lock['contact']}"] if lock.get("contact") else []


def _until(lock: dict[str, Any]) -> Lines:
    return [f"    Accepted from: {when(lock['until'])}"] if lock.get("until") else []


def _lost(lock: dict[str, Any]) -> Lines:
    """The owner's own words and how to reach them: all a finder needs."""
    return _head(lock) + _contact(lock)


def _creditor(lock: dict[str, Any]) -> Lines:
    """The creditor's message, then what still works (the lock's `allows`): a financed
    phone never stops reaching emergency services, the creditor, or a network."""
    allows = lock.get("allows") or []
    lines = _head(lock)
    if "emergency-calls" in allows:
        callee = lock.get("contact") if "call-contact" in allows else None
        lines.append(f"    Emergency calls and calls to {callee} still work" if callee
                     else "    Emergency calls still work")
    if "network-settings" in allows:
        lines.append("    Network settings still work (to fetch the record that unlocks it)")
    return lines + _contact(lock)


def _organization(lock: dict[str, Any]) -> Lines:
    """The server writes the organization's message ("This device belongs to ... Enter
    the code your administrator gave you"); the screen adds whom to ask."""
    return _head(lock) + _contact(lock)


def _territory(lock: dict[str, Any]) -> Lines:
    rule = f" (rule {lock['rule']})" if lock.get("rule") else ""
    where = [f"    Territory: {lock['territory']}{rule}"] if lock.get("territory") else []
    return _head(lock) + _until(lock) + where + _contact(lock)


def _owner(lock: dict[str, Any]) -> Lines:
    account = [f"    Account: {lock['hint']}"] if lock.get("hint") else []
    return _head(lock) + account + _until(lock)


def _other(lock: dict[str, Any]) -> Lines:
    return _head(lock) + _until(lock) + _contact(lock)


RENDERERS: dict[str, Callable[[dict[str, Any]], Lines]] = {
    "lost": _lost,
    "creditor": _creditor,
    "organization": _organization,
    "territory": _territory,
    "owner": _owner,
}


def lock_lines(lock: dict[str, Any]) -> Lines:
    return RENDERERS.get(str(lock.get("kind")), _other)(lock) + way_out_lines(lock)


def way_out_lines(lock: dict[str, Any]) -> Lines:
    """The way out of a lock, from the record's extension members (docs/protocol.md,
    "Ways out of a lock"); a record without them shows nothing more."""
    lines = []
    if isinstance(lock.get("released_if"), str):
        lines.append(f"    Released when: {lock['released_if']}")
    if isinstance(lock.get("status_url"), str):
        lines.append(f"    Check this device: {lock['status_url']}")
    if isinstance(lock.get("appeal_url"), str):
        lines.append(f"    Appeal: {lock['appeal_url']}")
    return lines


def status_line(record: dict[str, Any]) -> str:
    """LOCKED names what locks it, so the owner line below cannot read as a contradiction."""
    status = f"Status: {record['status'].upper()}"
    kinds = [str(lock.get("kind", "")) for lock in record.get("locks", [])]
    if not kinds:
        return status
    names = [LOCK_NAMES.get(kind, kind) for kind in dict.fromkeys(kinds)]
    return f"{status} ({'; '.join(names)})"


def owner_line(record: dict[str, Any]) -> str:
    owner = record.get("owner")
    if owner:
        return f"Owner: {owner['hint']}"
    if record.get("locks"):
        return "Owner: none (no account holds it; the lock above is not an activation lock)"
    return "Owner: none (activation lock off)"


def record_lines(record: dict[str, Any]) -> Lines:
    """The status, every lock in the record's order, and the messages sent to the device."""
    lines = [status_line(record)]
    for lock in record.get("locks", []):
        lines.extend(lock_lines(lock))
    for command in record.get("commands", []):
        if command.get("type") == "message":
            sender = f" from {command['from']}" if command.get("from") else ""
            lines.append(f"  Message{sender}: "
                         f"{command.get('message', command.get('text', ''))}")
    lines.append(owner_line(record))
    return lines
