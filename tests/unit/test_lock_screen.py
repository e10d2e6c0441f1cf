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


# -- each kind of lock, as the device shows it (agent/screen.py) ----------------------------

def screen(*locks: dict[str, object]) -> list[str]:
    from tenure.agent.screen import record_lines

    return record_lines({"status": "locked", "locks": list(locks), "owner": None})


def test_a_lost_lock_shows_the_owners_message_and_contact() -> None:
    lines = screen({"kind": "lost", "message": "Found it? Please call me.",
                    "contact": "+1 555 0101"})
    assert lines[1:3] == ["  [lost] Found it? Please call me.", "    Contact: +1 555 0101"]


def test_a_creditor_lock_says_what_still_works() -> None:
    lines = screen({"kind": "creditor", "message": "Payment overdue.", "contact": "+1 555 0199",
                    "allows": ["emergency-calls", "call-contact", "network-settings"]})
    assert lines[1] == "  [creditor] Payment overdue."
    assert lines[2] == "    Emergency calls and calls to +1 555 0199 still work"
    assert "Network settings still work" in lines[3]


def test_a_creditor_lock_without_the_contact_allowed_names_emergency_calls_only() -> None:
    lines = screen({"kind": "creditor", "message": "Payment overdue.",
                    "allows": ["emergency-calls"]})
    assert lines[2] == "    Emergency calls still work"


def test_an_organization_lock_shows_the_servers_message_and_whom_to_ask() -> None:
    message = ("This device belongs to Acme Corp. Enter the code your administrator "
               "gave you.")
    lines = screen({"kind": "organization", "message": message, "contact": "it@acme.example"})
    assert lines[1:3] == [f"  [organization] {message}", "    Contact: it@acme.example"]


def test_an_owner_lock_shows_the_masked_account() -> None:
    assert screen(OWNER)[1:3] == ["  [owner] This device is linked to an account.",
                                  "    Account: a***@e***.com"]


def test_every_lock_is_shown_in_the_records_order_and_unknown_kinds_still_show() -> None:
    lost = {"kind": "lost", "message": "Lost", "contact": "me@example.com"}
    future = {"kind": "something-new", "message": "Ask the maker.", "contact": "+1 555 0000"}
    lines = screen(lost, TERRITORY, OWNER, future)
    assert [line for line in lines if line.startswith("  [")] == [
        "  [lost] Lost", "  [territory] Not permitted here.",
        "  [owner] This device is linked to an account.", "  [something-new] Ask the maker."]
    assert lines.count("    Contact: +1 555 0000") == 1
