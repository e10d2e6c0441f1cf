"""The reference agent's part of financing, without a server: which commands a check-in
acknowledges, and the offline lock it shows on its own."""

from __future__ import annotations

from tenure.agent.block import MemoryBlock
from tenure.agent.financing import (
    acks_for,
    offline_lock,
    remember_accepted,
    screen_lines,
    with_offline_lock,
)
from tenure.agent.screen import record_lines

DAY = 86400
NOTICE = {"id": "n1", "type": "notice", "kind": "creditor-enrollment", "creditor": "Loans Ltd",
          "contact": "+44 20 7946 0000", "text": "Loans Ltd finances this device."}
MESSAGE = {"id": "m1", "type": "message", "text": "Late", "from": "Loans Ltd"}


def test_a_notice_is_acknowledged_only_when_accepted() -> None:
    record = {"commands": [NOTICE, MESSAGE]}
    assert acks_for(record, accept_notices=False) == ["m1"]
    assert acks_for(record, accept_notices=True) == ["n1", "m1"]
    assert acks_for(None, accept_notices=True) == []


def test_the_pending_notice_is_on_screen_with_how_to_accept_it() -> None:
    lines = "\n".join(screen_lines({"locks": [], "commands": [NOTICE]}))
    assert "Notice from Loans Ltd" in lines and "--accept-notice" in lines


def test_offline_lock_from_the_last_record_once_its_time_has_passed() -> None:
    block = MemoryBlock()
    remember_accepted(block, {"commands": [NOTICE]})
    record = {"status": "activated", "locks": [], "iat": 1_000, "offline_lock_at": 1_000 + DAY}
    assert offline_lock(record, block, 1_000 + DAY - 1) is None
    shown = with_offline_lock(record, block, 1_000 + DAY)
    assert shown["status"] == "locked"
    (lock,) = shown["locks"]
    assert lock["kind"] == "creditor" and lock["contact"] == "+44 20 7946 0000"
    assert "Loans Ltd" in lock["message"]
    assert any("Emergency calls and calls to +44 20 7946 0000 still work" in line
               for line in record_lines(shown))
    assert not any("check in before" in line for line in screen_lines(shown))


def test_no_offline_lock_without_offline_lock_at_or_when_the_server_already_locks() -> None:
    block = MemoryBlock()
    assert offline_lock({"locks": [], "iat": 0}, block, 10**10) is None
    server_lock = {"kind": "creditor", "message": "Pay", "contact": "x"}
    record = {"locks": [server_lock], "iat": 0, "offline_lock_at": 1}
    assert with_offline_lock(record, block, 10) == record
