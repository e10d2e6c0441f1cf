"""Lost mode: only the bound account reports its device lost, and only it ends that."""

from __future__ import annotations

import pytest

from tenure.domain.errors import InvalidInput, NotFound, Unauthorized
from tenure.domain.model import ClaimKind
from tenure.services.lost_mode import LostMode

from .conftest import World


def lost_kinds(world: World, device_id: str) -> list[ClaimKind]:
    return [c.kind for c in world.uow.active_claims(device_id) if c.kind is ClaimKind.LOST]


def test_the_owner_reports_a_device_lost_and_found(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = LostMode(world.uow, world.clock)
    lost.report(owner.token, phone.device_id, "  Please return me  ", " +1 555 0101 ")
    (claim,) = [c for c in world.uow.active_claims(phone.device_id) if c.kind is ClaimKind.LOST]
    assert (claim.message, claim.contact, claim.holder) == (
        "Please return me", "+1 555 0101", owner.account_id)
    lost.report(owner.token, phone.device_id, "Again", None)  # once lost, stays one claim
    assert len(lost_kinds(world, phone.device_id)) == 1
    lost.found(owner.token, phone.device_id)
    assert lost_kinds(world, phone.device_id) == []
    assert world.uow.actions(f"device:{phone.device_id}") == [
        "claim.lost.reported", "claim.lost.released"]


def test_only_the_bound_account_may_report_or_end_lost_mode(world: World) -> None:
    owner, other = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = LostMode(world.uow, world.clock)
    with pytest.raises(NotFound):
        lost.report(other.token, phone.device_id, "Mine now", None)
    lost.report(owner.token, phone.device_id, "Lost", None)
    with pytest.raises(NotFound):
        lost.found(other.token, phone.device_id)
    with pytest.raises(Unauthorized):
        lost.found(None, phone.device_id)
    with pytest.raises(NotFound):
        lost.found(owner.token, "not a device id")
    assert len(lost_kinds(world, phone.device_id)) == 1


@pytest.mark.parametrize(("message", "contact"), [
    ("", None), ("   ", None), ("x" * 501, None), (42, None), ("Lost", "y" * 256), ("Lost", 7)])
def test_message_and_contact_are_checked_before_anything_is_written(
        world: World, message: object, contact: object) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    with pytest.raises(InvalidInput):
        LostMode(world.uow, world.clock).report(owner.token, phone.device_id, message, contact)
    assert lost_kinds(world, phone.device_id) == []
