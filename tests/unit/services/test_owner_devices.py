"""The owner's device list (portal) and removing a device from the account."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tenure.domain.errors import (
    CredentialCoolingDown,
    DeviceHeld,
    NotFound,
    ReauthenticationRequired,
)
from tenure.domain.model import ClaimKind
from tenure.services.authn import OwnerActions
from tenure.services.owner_devices import OwnerDevices
from tenure.services.unlock import rules_from

from .conftest import COOLDOWN, HOUR, REAUTH, World

RULES = rules_from(168, 1, 365, 14)


def portal(world: World) -> OwnerDevices:
    return OwnerDevices(world.uow, world.clock, RULES, OwnerActions(REAUTH, COOLDOWN),
                        world.last_seen)


def test_the_list_shows_each_owned_device_with_its_claims_and_unlock_outlook(
        world: World) -> None:
    owner, other = world.owner(), world.owner()
    first, second, theirs = world.phone(activated=True), world.phone(), world.phone()
    owned_at = world.clock.now()
    world.bind(first, owner)
    world.clock.advance(10)
    world.bind(second, owner)
    world.bind(theirs, other)
    world.claim(second, ClaimKind.LOST, owner.account_id, message="Lost on the train")
    world.uow.state.bootloader[first.device_id] = "locked"
    world.last_seen.note(first.device_id, world.clock.now())
    listed = portal(world).overview(owner.token)
    assert [d["device_id"] for d in listed] == [first.device_id, second.device_id]
    assert listed[0]["model"] == "Tenure Phone 1"
    assert listed[0]["last_checkin"] == world.clock.now()  # pending, not yet written
    assert listed[0]["unlock"] == {
        "eligible_from": owned_at + 168 * HOUR, "quota_left": 1, "quota_frees_at": None,
        "blocked_by": [], "bootloader": "locked"}
    assert [c["kind"] for c in listed[1]["claims"]] == ["owner", "lost"]
    assert listed[1]["claims"][1]["message"] == "Lost on the train"
    assert listed[1]["unlock"]["blocked_by"] == ["lost"]
    assert listed[1]["unlock"]["bootloader"] == "unknown"
    assert listed[1]["last_checkin"] is None


def test_a_grant_uses_the_quota_for_the_other_devices(world: World) -> None:
    owner = world.owner()
    first, second = world.phone(), world.phone()
    world.bind(first, owner)
    world.bind(second, owner)
    with world.uow() as tx:
        tx.unlocks.add("g1", first.device_id, owner.account_id, "n", world.clock.now(),
                       world.clock.now() + 14 * 86400)
    views = {d["device_id"]: d["unlock"] for d in portal(world).overview(owner.token)}
    assert views[first.device_id]["quota_left"] == 1  # its own grant does not count
    assert views[second.device_id]["quota_left"] == 0
    assert views[second.device_id]["quota_frees_at"] == world.clock.now() + 365 * 86400


def test_an_account_without_devices_gets_an_empty_list(world: World) -> None:
    assert portal(world).overview(world.owner().token) == []


def test_removing_releases_the_owner_claim_and_mails_the_owner(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    portal(world).remove(owner.token, phone.device_id)
    assert world.uow.active_claims(phone.device_id) == ()
    assert world.uow.mail_to(owner.email)[-1].body.count("(in the portal)") == 1
    assert portal(world).overview(owner.token) == []


def test_a_device_in_lost_mode_is_held_until_lost_mode_is_lifted(world: World) -> None:
    """Regression (PROTOCOL.md Part 2): removal silently dropped the lost claim with the
    owner claim; now it answers 409 device-held and changes nothing."""
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="Lost", contact="+1 555 0100")
    with pytest.raises(DeviceHeld):
        portal(world).remove(owner.token, phone.device_id)
    assert {c.kind for c in world.uow.active_claims(phone.device_id)} == {
        ClaimKind.OWNER, ClaimKind.LOST}
    assert world.uow.mail_to(owner.email) == []


def test_removing_needs_a_fresh_settled_sign_in_of_the_owner(world: World) -> None:
    owner, other = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    with pytest.raises(NotFound):
        portal(world).remove(other.token, phone.device_id)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        portal(world).remove(owner.token, phone.device_id)
    accounts = world.uow.state.accounts
    accounts[owner.account_id] = replace(accounts[owner.account_id],
                                         password_changed_at=world.clock.now())
    world.sign_in_again(owner)
    with pytest.raises(CredentialCoolingDown):
        portal(world).remove(owner.token, phone.device_id)
    assert len(world.uow.active_claims(phone.device_id)) == 1
