"""Lost mode (PROTOCOL.md Part 2): only the bound account reports its device lost and
edits what it shows; lifting it is an owner action that weakens protection, so it needs
a fresh sign-in outside the credential cool-down; every change mails the holder."""

from __future__ import annotations

import pytest

from tenure.domain.errors import (
    CredentialCoolingDown,
    InvalidInput,
    NotFound,
    ReauthenticationRequired,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.services.authn import OwnerActions
from tenure.services.lost_mode import LostMode

from .conftest import COOLDOWN, HOUR, REAUTH, World

CONTACT = "+1 555 0101"


def lost_mode(world: World) -> LostMode:
    return LostMode(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))


def lost_claims(world: World, device_id: str) -> list[tuple[str, str]]:
    return [(c.message, c.contact) for c in world.uow.active_claims(device_id)
            if c.kind is ClaimKind.LOST]


def reset_password(world: World, account_id: str) -> None:
    """The account's password changed by a reset now (what PasswordReset.confirm does)."""
    with world.uow() as tx:
        tx.accounts.set_password(account_id, world.password_hash, world.clock.now())


def test_the_owner_reports_a_device_lost_and_found(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = lost_mode(world)
    lost.report(owner.token, phone.device_id, "  Please return me  ", " +1 555 0101 ")
    assert lost_claims(world, phone.device_id) == [("Please return me", CONTACT)]
    lost.report(owner.token, phone.device_id, "Please return me", CONTACT)  # no change
    lost.found(owner.token, phone.device_id)
    assert lost_claims(world, phone.device_id) == []
    assert world.uow.actions(f"device:{phone.device_id}") == [
        "claim.lost.reported", "claim.lost.released"]
    assert [m.subject for m in world.uow.mail_to(owner.email)] == [
        "Your device is in lost mode", "Lost mode of your device was lifted"]


def test_reporting_again_edits_the_message_and_contact_of_the_one_claim(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = lost_mode(world)
    lost.report(owner.token, phone.device_id, "Lost", CONTACT)
    lost.report(owner.token, phone.device_id, "Lost near the station", "finder@example.com")
    assert lost_claims(world, phone.device_id) == [
        ("Lost near the station", "finder@example.com")]
    assert "claim.lost.updated" in world.uow.actions(f"device:{phone.device_id}")
    assert world.uow.mail_to(owner.email)[-1].subject == (
        "The lost-mode message of your device changed")


def test_during_the_cooldown_lost_mode_may_be_edited_but_not_lifted(world: World) -> None:
    """Whoever took over the mailbox and reset the password may correct what the device
    shows, but cannot lift the lock until the cool-down has passed."""
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = lost_mode(world)
    lost.report(owner.token, phone.device_id, "Lost", CONTACT)
    reset_password(world, owner.account_id)
    world.sign_in_again(owner)
    lost.report(owner.token, phone.device_id, "Lost, call me", CONTACT)
    with pytest.raises(CredentialCoolingDown) as refused:
        lost.found(owner.token, phone.device_id)
    assert refused.value.extensions["until"] == world.clock.now() + COOLDOWN
    assert lost_claims(world, phone.device_id) == [("Lost, call me", CONTACT)]
    world.clock.advance(COOLDOWN)
    world.sign_in_again(owner)
    lost.found(owner.token, phone.device_id)
    assert lost_claims(world, phone.device_id) == []


def test_reporting_and_lifting_need_a_fresh_sign_in(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = lost_mode(world)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        lost.report(owner.token, phone.device_id, "Lost", CONTACT)
    world.sign_in_again(owner)
    lost.report(owner.token, phone.device_id, "Lost", CONTACT)
    world.clock.advance(HOUR)
    with pytest.raises(ReauthenticationRequired):
        lost.found(owner.token, phone.device_id)
    assert len(lost_claims(world, phone.device_id)) == 1


def test_only_the_bound_account_may_report_or_end_lost_mode(world: World) -> None:
    owner, other = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost = lost_mode(world)
    with pytest.raises(NotFound):
        lost.report(other.token, phone.device_id, "Mine now", CONTACT)
    lost.report(owner.token, phone.device_id, "Lost", CONTACT)
    with pytest.raises(NotFound):
        lost.found(other.token, phone.device_id)
    with pytest.raises(Unauthorized):
        lost.found(None, phone.device_id)
    with pytest.raises(NotFound):
        lost.found(owner.token, "not a device id")
    assert len(lost_claims(world, phone.device_id)) == 1


@pytest.mark.parametrize(("message", "contact"), [
    ("", CONTACT), ("   ", CONTACT), ("x" * 351, CONTACT), (42, CONTACT),
    ("Lost", None), ("Lost", ""), ("Lost", "call me maybe"), ("Lost", "y" * 255),
    ("Lost", 7)])
def test_message_and_contact_are_checked_before_anything_is_written(
        world: World, message: object, contact: object) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    with pytest.raises(InvalidInput):
        lost_mode(world).report(owner.token, phone.device_id, message, contact)
    assert lost_claims(world, phone.device_id) == []


def test_a_message_of_350_characters_is_accepted(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    lost_mode(world).report(owner.token, phone.device_id, "x" * 350, "owner@example.org")
    assert lost_claims(world, phone.device_id) == [("x" * 350, "owner@example.org")]
