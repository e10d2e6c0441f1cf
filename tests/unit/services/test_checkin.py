"""Check-in: commands acknowledged, last-seen batched, bootloader state kept, and the
territory policy's grace, notice, lock and release."""

from __future__ import annotations

from tenure.domain.model import ClaimKind

from .conftest import HOUR, World

SANCTIONS = """
[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR"]
contact = "compliance desk"
grace_hours = 72
notice_hours = 24
"""
IN_IRAN = {"signals": {"sim_mcc": ["432"], "gnss": {"country": "IR"}}}
IN_GERMANY = {"signals": {"sim_mcc": ["262"], "gnss": {"country": "DE"}}}


def test_a_check_in_is_answered_and_noted_for_the_batched_last_seen_write(
        world: World) -> None:
    phone = world.phone(activated=True)
    record = world.act(world.checkin(), phone, {"signals": {}})
    assert record["status"] == "activated" and record["commands"] == []
    assert world.last_seen.pending(phone.device_id) == world.clock.now()
    assert world.uow.state.devices[phone.device_id].last_checkin_at is None  # not yet
    assert world.last_seen.flush(world.uow) == 1
    assert world.uow.state.devices[phone.device_id].last_checkin_at == world.clock.now()


def test_an_owner_claim_does_not_block_an_activated_device_in_use(world: World) -> None:
    phone = world.phone(activated=True)
    world.bind(phone, world.owner())
    record = world.act(world.checkin(), phone)
    assert record["status"] == "activated" and record["owner"]["hint"]


def test_a_lost_report_locks_the_device_in_use(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="Please call",
                contact="+1 555 0101")
    record = world.act(world.checkin(), phone)
    assert record["status"] == "locked"
    assert record["locks"] == [{"kind": "lost", "message": "Please call",
                                "contact": "+1 555 0101"}]


def test_acknowledged_commands_are_no_longer_sent(world: World) -> None:
    phone = world.phone(activated=True)
    with world.uow() as tx:
        first = tx.commands.add(phone.device_id, "message", {"message": "one"}, 1)
        second = tx.commands.add(phone.device_id, "message", {"message": "two"}, 2)
    record = world.act(world.checkin(), phone, {"acks": [first]})
    assert [c["id"] for c in record["commands"]] == [second]
    assert [c["id"] for c in world.act(world.checkin(), phone, {"acks": [second]})
            ["commands"]] == []


def test_the_reported_bootloader_state_is_stored_when_it_changes(world: World) -> None:
    phone = world.phone(activated=True)
    world.act(world.checkin(), phone, {"bootloader": "unlocked"})
    assert world.uow.state.bootloader[phone.device_id] == "unlocked"
    world.act(world.checkin(), phone, {"bootloader": "nonsense"})
    assert world.uow.state.bootloader[phone.device_id] == "unlocked"


def test_presence_in_a_locking_territory_warns_then_locks_after_grace(world: World) -> None:
    world.apply_policy(SANCTIONS)
    phone = world.phone(activated=True)
    arrived = world.clock.now()
    assert world.act(world.checkin(), phone, IN_IRAN)["commands"] == []  # grace starts
    world.clock.advance(48 * HOUR)  # notice is due 24 h before the lock
    record = world.act(world.checkin(), phone, IN_IRAN)
    (notice,) = record["commands"]
    assert notice["type"] == "message" and notice["lock_at"] == arrived + 72 * HOUR
    assert record["status"] == "activated"
    world.clock.advance(12 * HOUR)
    assert world.act(world.checkin(), phone, IN_IRAN)["status"] == "activated"
    world.clock.advance(12 * HOUR)
    locked = world.act(world.checkin(), phone, IN_IRAN)
    assert locked["status"] == "locked"
    assert locked["locks"][0]["kind"] == "territory"
    assert locked["locks"][0]["rule"] == "sanctions"
    assert world.uow.actions(f"device:{phone.device_id}") == [
        "territory.notice_sent", "claim.territory.locked"]


def test_leaving_the_territory_releases_the_lock(world: World) -> None:
    world.apply_policy(SANCTIONS)
    phone = world.phone(activated=True)
    world.claim(phone, ClaimKind.TERRITORY, "policy:sanctions", message="Locked",
                territory="IR")
    assert world.act(world.checkin(), phone, IN_IRAN)["status"] == "locked"  # still there
    record = world.act(world.checkin(), phone, IN_GERMANY)
    assert record["status"] == "activated"
    assert world.uow.active_claims(phone.device_id) == ()
    assert world.uow.actions(f"device:{phone.device_id}") == ["claim.territory.released"]


def test_a_short_visit_does_not_lock(world: World) -> None:
    world.apply_policy(SANCTIONS)
    phone = world.phone(activated=True)
    world.act(world.checkin(), phone, IN_IRAN)
    world.clock.advance(40 * HOUR)
    world.act(world.checkin(), phone, IN_GERMANY)  # presence resets
    world.act(world.checkin(), phone, IN_IRAN)
    world.clock.advance(40 * HOUR)
    assert world.act(world.checkin(), phone, IN_IRAN)["commands"] == []
    assert world.uow.active_claims(phone.device_id) == ()
