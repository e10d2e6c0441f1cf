"""Binding a device to its owner (the activation lock) and releasing it from the device."""

from __future__ import annotations

import pytest

from tenure.domain.errors import (
    AlreadyBound,
    DeviceHeld,
    Malformed,
    NotActivated,
    ReauthenticationRequired,
    Unauthorized,
)
from tenure.domain.model import ClaimKind

from .conftest import REAUTH, World


def test_binding_makes_an_owner_claim_with_a_masked_hint_and_mails_the_owner(
        world: World) -> None:
    owner = world.owner("alice@example.com")
    phone = world.phone(activated=True)
    record = world.act(world.binding().bind, phone, {"account_token": owner.token})
    assert record["status"] == "activated"
    assert record["owner"] == {"hint": "a***@e***.com"}
    (claim,) = world.uow.active_claims(phone.device_id)
    assert claim.kind is ClaimKind.OWNER and claim.holder == owner.account_id
    assert [m.subject for m in world.uow.mail_to(owner.email)] == [
        "Your Tenure Phone 1 is now linked to your account"]
    assert world.uow.actions(f"device:{phone.device_id}") == ["claim.owner.bound"]


def test_binding_again_to_the_same_account_changes_nothing(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.act(world.binding().bind, phone, {"account_token": owner.token})
    world.act(world.binding().bind, phone, {"account_token": owner.token})
    assert len(world.uow.active_claims(phone.device_id)) == 1
    assert len(world.uow.mail_to(owner.email)) == 1


def test_a_device_bound_to_another_account_is_refused(world: World) -> None:
    first, second = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, first)
    with pytest.raises(AlreadyBound):
        world.act(world.binding().bind, phone, {"account_token": second.token})


def test_binding_needs_an_activated_device_and_a_live_session(world: World) -> None:
    owner = world.owner()
    with pytest.raises(NotActivated):
        world.act(world.binding().bind, world.phone(), {"account_token": owner.token})
    phone = world.phone(activated=True)
    with pytest.raises(Unauthorized):
        world.act(world.binding().bind, phone, {"account_token": "made-up"})
    with pytest.raises(Malformed):
        world.act(world.binding().bind, phone, {})
    assert world.uow.active_claims(phone.device_id) == ()


def test_unbinding_releases_the_owner_and_mails_them(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    record = world.act(world.binding().unbind, phone, {"account_token": owner.token})
    assert record["owner"] is None and record["locks"] == []
    assert world.uow.active_claims(phone.device_id) == ()
    assert "claim.owner.released" in world.uow.actions(f"device:{phone.device_id}")
    assert world.uow.mail_to(owner.email)[-1].subject == (
        "Your Tenure Phone 1 was removed from your account")


def test_a_device_in_lost_mode_cannot_be_unbound_until_lost_mode_is_lifted(
        world: World) -> None:
    """Regression (PROTOCOL.md Part 2, 409 device-held): unbinding a lost device silently
    released the lost claim too, so whoever held a stolen, lost-reported phone and the
    owner's fresh token could shed both locks at once."""
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.claim(phone, ClaimKind.LOST, owner.account_id, message="Lost", contact="+1 555 0100")
    with pytest.raises(DeviceHeld):
        world.act(world.binding().unbind, phone, {"account_token": owner.token})
    assert {c.kind for c in world.uow.active_claims(phone.device_id)} == {
        ClaimKind.OWNER, ClaimKind.LOST}
    assert "claim.owner.released" not in world.uow.actions(f"device:{phone.device_id}")


def test_unbinding_needs_a_fresh_sign_in_of_the_bound_account(world: World) -> None:
    owner, other = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        world.act(world.binding().unbind, phone, {"account_token": owner.token})
    world.sign_in_again(other)
    with pytest.raises(ReauthenticationRequired):
        world.act(world.binding().unbind, phone, {"account_token": other.token})
    with pytest.raises(ReauthenticationRequired):
        world.act(world.binding().unbind, phone, {"account_token": "made-up"})
    assert len(world.uow.active_claims(phone.device_id)) == 1


def test_unbinding_an_unbound_device_is_a_no_op(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    assert world.act(world.binding().unbind, phone,
                     {"account_token": owner.token})["status"] == "activated"
    assert world.uow.state.outbox == {}
