"""Every lock in a record ends in a way out (docs/protocol.md, "Ways out of a lock"): an
owner lock links the status check and appeals, a territory lock links appeals and says
what releases it, a creditor lock keeps its contact; members other clients can ignore."""

from __future__ import annotations

from tenure.domain.decide import RELEASED_IF_ACTIVATION, RELEASED_IF_IN_USE
from tenure.domain.model import ClaimKind, Lock
from tenure.i18n import gettext
from tenure.services.records import lock_json, way_out

BASE = "https://tenure.example/"


def test_an_owner_lock_links_the_status_check_and_appeals() -> None:
    lock = Lock(ClaimKind.OWNER, "linked", hint="a***@e***.com")
    assert way_out(lock, "TN 1/2", BASE) == {
        "status_url": "https://tenure.example/v1/public/status?device_id=TN%201/2",
        "appeal_url": "https://tenure.example/v1/cases"}


def test_a_territory_lock_says_what_releases_it() -> None:
    refused = Lock(ClaimKind.TERRITORY, "not here", territory="IR", rule="r1",
                   released_if=RELEASED_IF_ACTIVATION)
    assert way_out(refused, "TN1", BASE, "en") == {
        "appeal_url": "https://tenure.example/v1/cases",
        "released_if": "the device is activated in a permitted territory"}
    held = Lock(ClaimKind.TERRITORY, "locked", territory="IR", rule="r1",
                released_if=RELEASED_IF_IN_USE)
    assert way_out(held, "TN1", "", "en")["released_if"].startswith("the device checks in from")
    # a device that names no language reads a territory lock in the territory's
    persian = way_out(refused, "TN1", BASE)["released_if"]
    assert persian == gettext("fa", "the device is activated in a permitted territory")
    assert persian != "the device is activated in a permitted territory"
    assert "released_if" not in lock_json(held)  # extensions come only with way_out


def test_lost_and_creditor_locks_keep_their_contact_and_add_nothing() -> None:
    for kind in (ClaimKind.LOST, ClaimKind.CREDITOR):
        lock = Lock(kind, "call us", contact="+1 555 0100")
        assert way_out(lock, "TN1", BASE) == {}
        assert lock_json(lock)["contact"] == "+1 555 0100"


def test_the_agent_shows_the_way_out_and_ignores_its_absence() -> None:
    from tenure.agent.screen import lock_lines, way_out_lines

    lock = {"kind": "territory", "message": "Not here.", "territory": "IR",
            "appeal_url": "https://tenure.example/v1/cases",
            "released_if": "the device is activated in a permitted territory"}
    assert way_out_lines(lock) == [
        "    Released when: the device is activated in a permitted territory",
        "    Appeal: https://tenure.example/v1/cases"]
    assert lock_lines(lock)[-2:] == way_out_lines(lock)
    assert way_out_lines({"kind": "owner", "message": "m"}) == []
