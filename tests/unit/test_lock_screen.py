"""What the reference agent's lock screen says about a record: which lock applies, and
how old the record is (no server, no keys: the rendering of a verified payload)."""

from __future__ import annotations

from tenure.agent.screen import iso_utc
from tenure.agent.screen import owner_line as _owner_line
from tenure.agent.screen import status_line as _status_line

TERRITORY = {"kind": "territory", "message": "Not permitted here.", "territory": "IR",
             "rule": "sanctions"}
OWNER = {"kind": "owner", "message": "This device is linked to an account.",
         "hint": "a***@e***.com"}


def test_a_territory_lock_does_not_read_as_a_contradiction() -> None:
    """`Status: LOCKED` beside `Owner: none (activation lock off)` looked contradictory:
    the status names the lock, the owner line says the lock is not the owner's."""
    record = {"status": "locked", "locks": [TERRITORY], "owner": None}
    assert _status_line(record) == "Status: LOCKED (territory policy of the manufacturer)"
    owner = _owner_line(record)
    assert owner.startswith("Owner: none") and "activation lock off" not in owner
    assert "not an activation lock" in owner


def test_each_lock_kind_is_named_once() -> None:
    record = {"status": "locked", "locks": [OWNER, TERRITORY, dict(TERRITORY)],
              "owner": {"hint": "a***@e***.com"}}
    assert _status_line(record) == ("Status: LOCKED (activation lock of the owner's account; "
                                    "territory policy of the manufacturer)")
    assert _owner_line(record) == "Owner: a***@e***.com"


def test_an_activated_record_says_only_that() -> None:
    record = {"status": "activated", "locks": [], "owner": None}
    assert _status_line(record) == "Status: ACTIVATED"
    assert _owner_line(record) == "Owner: none (activation lock off)"


def test_times_are_iso_utc() -> None:
    assert iso_utc(1_764_000_000) == "2025-11-24T16:00:00Z"
