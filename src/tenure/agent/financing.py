"""What the reference agent does for a creditor claim (docs/financing.md): it shows the
enrollment notice and acknowledges it only once the user accepted it, and it locks
itself when it has heard nothing newer than a record whose `offline_lock_at` has passed.

The offline lock is the device's own: the server cannot send a lock to a device that
never calls, so every record of a financed device says until when it is valid without
a newer one. The lock it shows is the creditor lock a server would send, with the same
promise: emergency calls and calls to the creditor still work, and reaching a network
to check in lifts it as soon as the server answers.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .block import Block

FINANCING = "financing.json"  # persistent block: who finances the device, accepted terms
ALLOWS = ["emergency-calls", "call-contact", "network-settings"]


def pending_notices(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Enrollment notices of the record, waiting for the user's answer."""
    return [c for c in record.get("commands", []) if c.get("type") == "notice"]


def acks_for(record: dict[str, Any] | None, accept_notices: bool) -> list[str]:
    """Commands to acknowledge at the next check-in: every command the screen showed,
    but a notice only when the user accepted it (a check-in without acceptance leaves
    it pending, so the creditor has no lock power yet)."""
    if record is None:
        return []
    return [str(c["id"]) for c in record.get("commands", [])
            if "id" in c and (c.get("type") != "notice" or accept_notices)]


def remember_accepted(block: Block, record: dict[str, Any] | None) -> None:
    """Keep who finances the device and their contact, from the notices accepted: the
    offline lock shows them when no record says more."""
    for notice in pending_notices(record or {}):
        block.write(FINANCING, json.dumps({
            "creditor": notice.get("creditor", ""), "contact": notice.get("contact", ""),
            "accepted_notice": notice.get("id", "")}, indent=2).encode())


def offline_lock(record: dict[str, Any], block: Block, now: int) -> dict[str, Any] | None:
    """The creditor lock the device shows on its own: its last valid record carried
    `offline_lock_at`, that time has passed, and no newer record came."""
    lock_at = record.get("offline_lock_at")
    if not isinstance(lock_at, int) or now < lock_at:
        return None
    if any(lock.get("kind") == "creditor" for lock in record.get("locks", [])):
        return None  # the server's own creditor lock is already shown
    saved = block.read(FINANCING)
    terms = json.loads(saved) if saved is not None else {}
    who = terms.get("creditor") or "the company that finances it"
    message = (f"This device has not reached the server since {_when(record.get('iat', 0))}; "
               f"as agreed with {who}, it is locked until it checks in again.")
    lock = {"kind": "creditor", "message": message, "allows": list(ALLOWS), "offline": True}
    if terms.get("contact"):
        lock["contact"] = terms["contact"]
    return lock


def with_offline_lock(record: dict[str, Any], block: Block, now: int) -> dict[str, Any]:
    """The record as the screen shows it: locked by the creditor on the device's own
    account when `offline_lock_at` has passed without a newer record."""
    lock = offline_lock(record, block, now)
    if lock is None:
        return record
    return {**record, "status": "locked", "locks": [*record.get("locks", []), lock]}


def screen_lines(record: dict[str, Any]) -> list[str]:
    """The financing part of the screen (after agent/screen.py's, which renders a
    creditor lock and what it `allows`): pending enrollment notices, and until when
    the device may stay offline."""
    lines: list[str] = []
    for notice in pending_notices(record):
        lines.append(f"  Notice from {notice.get('creditor', '?')} "
                     f"(contact {notice.get('contact', '?')}):")
        lines.append(f"    {notice.get('text', '')}")
        lines.append("    Accept it with `tenure device checkin --accept-notice`; until "
                     "then nothing can be locked.")
    lock_at = record.get("offline_lock_at")
    offline = any(lock.get("offline") for lock in record.get("locks", []))
    if isinstance(lock_at, int) and not offline:
        lines.append(f"Financed: check in before {_when(lock_at)} or the device locks "
                     "itself until it does.")
    return lines


def _when(at: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
