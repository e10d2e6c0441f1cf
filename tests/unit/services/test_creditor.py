"""Creditor claims on fakes: enrollment and its refusals, the notice and reminders
acknowledged at check-in, the lock rule, unlock, completion and its cancellation, the
completion by the maintenance round, and what records and owners see."""

from __future__ import annotations

from typing import Any

import pytest

from tenure.domain.creditor import LockRules
from tenure.domain.errors import (
    AlreadyFinanced,
    CreditorState,
    DuplicateLoan,
    Forbidden,
    InvalidInput,
    NoPriorReminder,
    NotFound,
    NoticeNotAcknowledged,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.services.apikeys import ApiKeys
from tenure.services.creditor import CreditorDevices
from tenure.services.creditor_completion import CreditorCompletions
from tenure.services.tenants import TenantAdmin

from .conftest import HOUR, Phone, World

DAY = 24 * HOUR


class Bank:
    """A creditor tenant with a key, and the use case bound to the world."""

    def __init__(self, world: World, name: str = "Loans Ltd") -> None:
        self.world = world
        self.tenant = TenantAdmin(world.uow, world.clock, False).create(
            "creditor", name, "+44 20 7946 0000")
        self.key = ApiKeys(world.uow, world.clock).create("creditor", "api",
                                                          self.tenant.tenant_id)
        self.api = CreditorDevices(world.uow, world.clock, LockRules())

    def assign(self, phone: Phone) -> None:
        TenantAdmin(self.world.uow, self.world.clock, False).assign(
            self.tenant.tenant_id, [phone.device_id])

    def enroll(self, phone: Phone, loan_id: str = "L-1", **extra: Any) -> dict[str, str]:
        body = {"device_id": phone.device_id, "loan_id": loan_id, "contact": "+44 20 7946 0000",
                **extra}
        return self.api.enroll(self.key, body)


def checkin(world: World, phone: Phone, acks: list[str] | None = None) -> dict[str, Any]:
    return world.act(world.checkin(), phone, {"acks": acks or []})


def command(record: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in record["commands"] if c["type"] == type_)


@pytest.fixture
def bank(world: World) -> Bank:
    return Bank(world)


@pytest.fixture
def phone(world: World, bank: Bank) -> Phone:
    phone = world.phone(activated=True)
    bank.assign(phone)
    return phone


def in_force(world: World, bank: Bank, phone: Phone) -> None:
    bank.enroll(phone)
    notice = command(checkin(world, phone), "notice")
    checkin(world, phone, [notice["id"]])


def reminded(world: World, bank: Bank, phone: Phone, hours_ago: int = 100) -> None:
    bank.api.remind(bank.key, phone.device_id, "Your payment is late.")
    reminder = command(checkin(world, phone), "message")
    checkin(world, phone, [reminder["id"]])
    world.clock.advance(hours_ago * HOUR)


# -- enrollment -----------------------------------------------------------------------------

def test_enrollment_queues_the_notice_and_tells_owner_and_webhook(world: World, bank: Bank,
                                                                   phone: Phone) -> None:
    owner = world.owner("ana@example.com")
    world.bind(phone, owner)
    assert bank.enroll(phone) == {"state": "enrolled"}
    record = checkin(world, phone)
    notice = command(record, "notice")
    assert notice["kind"] == "creditor-enrollment" and notice["creditor"] == "Loans Ltd"
    assert notice["contact"] == "+44 20 7946 0000"
    assert "emergency calls" in notice["text"] and "cannot see your data" in notice["text"]
    assert record["locks"] == [] and "offline_lock_at" not in record  # no lock power yet
    assert [m.subject for m in world.uow.mail_to(owner.email)][-1] == \
        "Loans Ltd now finances your device"
    assert [e["event"] for e in world.uow.state.events] == ["device.enrolled"]
    assert "claim.creditor.enrolled" in world.uow.actions(f"device:{phone.device_id}")


def test_enrollment_refusals(world: World, bank: Bank, phone: Phone) -> None:
    stranger = world.phone(activated=True)
    with pytest.raises(NotFound):
        bank.enroll(stranger)  # neither assigned nor consented
    with pytest.raises(NotFound):
        bank.api.enroll(bank.key, {"device_id": "NOPE", "loan_id": "L", "contact": "+1 555"})
    with pytest.raises(InvalidInput, match="offline_lock_days"):
        bank.enroll(phone, offline_lock_days=13)
    with pytest.raises(InvalidInput, match="offline_lock_days"):
        bank.enroll(phone, offline_lock_days=True)
    with pytest.raises(InvalidInput, match="contact"):
        bank.enroll(phone, contact="call me")
    with pytest.raises(Unauthorized):
        bank.api.enroll("tnr_bad_key", {})
    org = TenantAdmin(world.uow, world.clock, False).create("organization", "Fleet")
    org_key = ApiKeys(world.uow, world.clock).create("organization", "k", org.tenant_id)
    with pytest.raises(Forbidden):
        bank.api.enroll(org_key, {})
    bank.enroll(phone, offline_lock_days=200)
    other = world.phone(activated=True)
    bank.assign(other)
    with pytest.raises(DuplicateLoan):
        bank.enroll(other)  # L-1 again
    rival = Bank(world, "Other Credit")
    rival.assign(phone)
    with pytest.raises(AlreadyFinanced):
        rival.enroll(phone, "R-1")
    assert [e["event"] for e in world.uow.state.events] == ["device.enrolled"]


def test_a_creditor_sees_only_devices_it_holds(world: World, bank: Bank, phone: Phone) -> None:
    bank.enroll(phone)
    rival = Bank(world, "Other Credit")
    for call in (rival.api.show, rival.api.unlock, rival.api.complete):
        with pytest.raises(NotFound):
            call(rival.key, phone.device_id)
    with pytest.raises(NotFound):
        rival.api.lock(rival.key, phone.device_id, "x")


# -- notice, reminders, lock -------------------------------------------------------------------

def test_the_lock_needs_the_notice_then_a_reminder_acknowledged_72_hours_before(
        world: World, bank: Bank, phone: Phone) -> None:
    bank.enroll(phone)
    with pytest.raises(NoticeNotAcknowledged):
        bank.api.lock(bank.key, phone.device_id, "Pay now")
    checkin(world, phone)  # a check-in that does not accept the notice leaves it pending
    assert bank.api.show(bank.key, phone.device_id)["state"] == "enrolled"
    notice = command(checkin(world, phone), "notice")
    world.clock.advance(60)
    record = checkin(world, phone, [notice["id"]])
    assert record["offline_lock_at"] == record["iat"] + 30 * DAY
    shown = bank.api.show(bank.key, phone.device_id)
    assert shown["state"] == "in-force" and shown["notice_acknowledged_at"] == record["iat"]
    with pytest.raises(NoPriorReminder):
        bank.api.lock(bank.key, phone.device_id, "Pay now")
    reminded(world, bank, phone, hours_ago=71)
    with pytest.raises(NoPriorReminder):  # too recent
        bank.api.lock(bank.key, phone.device_id, "Pay now")
    world.clock.advance(HOUR)
    assert bank.api.lock(bank.key, phone.device_id, "Pay now") == "locked"
    (lock,) = checkin(world, phone)["locks"]
    assert lock == {"kind": "creditor", "message": "Pay now", "contact": "+44 20 7946 0000",
                    "allows": ["emergency-calls", "call-contact", "network-settings"]}
    events = [e["event"] for e in world.uow.state.events]
    assert events == ["device.enrolled", "device.notice_acknowledged", "device.locked"]


def test_a_reminder_older_than_30_days_does_not_allow_a_lock(world: World, bank: Bank,
                                                             phone: Phone) -> None:
    in_force(world, bank, phone)
    reminded(world, bank, phone, hours_ago=30 * 24 + 1)
    with pytest.raises(NoPriorReminder):
        bank.api.lock(bank.key, phone.device_id, "Pay now")


def test_unlock_shows_at_the_next_checkin_and_owner_is_told(world: World, bank: Bank,
                                                            phone: Phone) -> None:
    owner = world.owner()
    world.bind(phone, owner)
    in_force(world, bank, phone)
    reminded(world, bank, phone)
    bank.api.lock(bank.key, phone.device_id, "Pay now")
    assert checkin(world, phone)["status"] == "locked"
    assert bank.api.unlock(bank.key, phone.device_id) == "in-force"
    assert bank.api.unlock(bank.key, phone.device_id) == "in-force"  # retried: same answer
    assert checkin(world, phone)["status"] == "activated"
    subjects = [m.subject for m in world.uow.mail_to(owner.email)]
    assert "Loans Ltd locked your device" in subjects
    assert "Loans Ltd unlocked your device" in subjects


# -- completion -------------------------------------------------------------------------------

def test_completion_is_cancellable_then_released_by_the_maintenance_round(
        world: World, bank: Bank, phone: Phone) -> None:
    owner = world.owner()
    world.bind(phone, owner)
    in_force(world, bank, phone)
    state, complete_at = bank.api.complete(bank.key, phone.device_id)
    assert (state, complete_at) == ("completing", world.clock.now() + 48 * HOUR)
    assert "offline_lock_at" not in checkin(world, phone)
    world.clock.advance(47 * HOUR)
    assert bank.api.cancel_completion(bank.key, phone.device_id) == "in-force"
    with pytest.raises(CreditorState):
        bank.api.cancel_completion(bank.key, phone.device_id)
    bank.api.complete(bank.key, phone.device_id)
    completions = CreditorCompletions(world.uow, world.clock)
    world.clock.advance(48 * HOUR - 1)
    assert completions.process_due() == 0
    world.clock.advance(1)
    assert completions.process_due() == 1
    assert not [c for c in world.uow.active_claims(phone.device_id)
                if c.kind is ClaimKind.CREDITOR]
    with pytest.raises(NotFound):
        bank.api.show(bank.key, phone.device_id)
    assert world.uow.state.events[-1]["event"] == "device.completed"
    assert "released its claim" in world.uow.mail_to(owner.email)[-1].subject
    assert completions.process_due() == 0
