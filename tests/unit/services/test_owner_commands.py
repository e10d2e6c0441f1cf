"""The owner's remote commands (PROTOCOL.md Part 2): ring and wipe wait in the device's
records until it acknowledges them; a wipe needs a fresh sign-in outside the
cool-down; a password reset cancels pending wipes; the owner's list shows each
command's state; a wipe releases no claim."""

from __future__ import annotations

import re

import pytest

from tenure.domain.errors import (
    CredentialCoolingDown,
    InvalidInput,
    NotFound,
    RateLimitExceeded,
    ReauthenticationRequired,
    Unauthorized,
)
from tenure.domain.model import ClaimKind
from tenure.domain.unlock import UnlockRules
from tenure.services.authn import OwnerActions
from tenure.services.limits import Limit
from tenure.services.lost_mode import LostMode
from tenure.services.owner_commands import OwnerCommands
from tenure.services.owner_devices import OwnerDevices
from tenure.services.password_reset import PasswordReset

from .conftest import COOLDOWN, HOUR, REAUTH, Owner, Phone, World

RULES = UnlockRules(168 * HOUR, 1, 365 * 86400, 14 * 86400)
CONTACT = "+1 555 0101"


def commands(world: World, **kwargs: object) -> OwnerCommands:
    return OwnerCommands(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN),
                         **kwargs)  # type: ignore[arg-type]


def listed(world: World, owner: Owner, phone: Phone) -> list[dict[str, object]]:
    """The `commands` of one device of the owner, as GET /v1/me/devices lists them."""
    devices = OwnerDevices(world.uow, world.clock, RULES,
                           OwnerActions(REAUTH, COOLDOWN)).overview(owner.token)
    (found,) = [d for d in devices if d["device_id"] == phone.device_id]
    return found["commands"]  # type: ignore[no-any-return]


def bound_phone(world: World) -> tuple[Owner, Phone]:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    return owner, phone


def test_a_ring_is_in_the_records_until_the_device_acknowledges_it(world: World) -> None:
    owner, phone = bound_phone(world)
    command_id = commands(world).issue(owner.token, phone.device_id, "ring")
    record = world.act(world.checkin(), phone)
    assert record["commands"] == [{"id": command_id, "type": "ring"}]
    assert record["commands"] == world.act(world.checkin(), phone)["commands"]  # not acked
    (shown,) = listed(world, owner, phone)
    assert shown == {"command_id": command_id, "type": "ring", "state": "pending",
                     "created_at": world.clock.now(), "acknowledged_at": None}
    world.clock.advance(60)
    assert world.act(world.checkin(), phone, {"acks": [command_id]})["commands"] == []
    assert listed(world, owner, phone)[0]["state"] == "acknowledged"
    assert listed(world, owner, phone)[0]["acknowledged_at"] == world.clock.now()
    assert world.uow.actions(f"device:{phone.device_id}") == [
        "command.ring.queued", "command.ring.acknowledged"]
    assert world.uow.mail_to(owner.email)[-1].subject == "Your device will ring"


def test_a_ring_needs_a_session_but_not_a_fresh_one(world: World) -> None:
    owner, phone = bound_phone(world)
    world.clock.advance(REAUTH + 1)
    assert commands(world).issue(owner.token, phone.device_id, "ring")
    with pytest.raises(Unauthorized):
        commands(world).issue(None, phone.device_id, "ring")


def test_a_wipe_needs_a_fresh_sign_in(world: World) -> None:
    owner, phone = bound_phone(world)
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        commands(world).issue(owner.token, phone.device_id, "wipe")
    assert world.act(world.checkin(), phone)["commands"] == []
    world.sign_in_again(owner)
    command_id = commands(world).issue(owner.token, phone.device_id, "wipe")
    assert world.act(world.checkin(), phone)["commands"] == [{"id": command_id, "type": "wipe"}]
    assert world.uow.mail_to(owner.email)[-1].subject == "Your device will be wiped"


def test_a_wipe_is_refused_during_the_cooldown(world: World) -> None:
    owner, phone = bound_phone(world)
    with world.uow() as tx:
        tx.accounts.set_password(owner.account_id, world.password_hash, world.clock.now())
    world.sign_in_again(owner)
    with pytest.raises(CredentialCoolingDown) as refused:
        commands(world).issue(owner.token, phone.device_id, "wipe")
    assert refused.value.extensions["until"] == world.clock.now() + COOLDOWN
    assert commands(world).issue(owner.token, phone.device_id, "ring")  # ringing still works
    world.clock.advance(COOLDOWN)
    world.sign_in_again(owner)
    assert commands(world).issue(owner.token, phone.device_id, "wipe")


def test_another_accounts_device_answers_like_an_unknown_one(world: World) -> None:
    owner, phone = bound_phone(world)
    stranger = world.owner()
    for kind in ("ring", "wipe"):
        with pytest.raises(NotFound):
            commands(world).issue(stranger.token, phone.device_id, kind)
        with pytest.raises(NotFound):
            commands(world).issue(owner.token, "UTNOSUCHDEVICE", kind)
    assert world.uow.state.commands == {}


@pytest.mark.parametrize("kind", [None, "", "RING", "message", "notice", 1, ["ring"]])
def test_only_ring_and_wipe_are_commands_an_owner_sends(world: World, kind: object) -> None:
    owner, phone = bound_phone(world)
    with pytest.raises(InvalidInput):
        commands(world).issue(owner.token, phone.device_id, kind)
    assert world.uow.state.commands == {}


def test_ringing_is_limited_per_device(world: World) -> None:
    owner, phone = bound_phone(world)
    ring = commands(world, ring_limit=Limit("ring-device", 2, HOUR))
    first = ring.issue(owner.token, phone.device_id, "ring")
    second = ring.issue(owner.token, phone.device_id, "ring")
    with pytest.raises(RateLimitExceeded) as refused:
        ring.issue(owner.token, phone.device_id, "ring")
    assert 0 < refused.value.extensions["retry_after"] <= HOUR
    assert sorted(c["command_id"] for c in listed(world, owner, phone)) == sorted([first, second])
    world.clock.advance(HOUR)
    assert ring.issue(owner.token, phone.device_id, "ring")


def test_a_device_holds_a_bounded_number_of_pending_commands(world: World) -> None:
    owner, phone = bound_phone(world)
    capped = commands(world, ring_limit=Limit("ring-device", 100, HOUR), max_pending=3)
    for _ in range(3):
        capped.issue(owner.token, phone.device_id, "ring")
    with pytest.raises(RateLimitExceeded):
        capped.issue(owner.token, phone.device_id, "ring")
    pending = [c["id"] for c in world.act(world.checkin(), phone)["commands"]]
    world.act(world.checkin(), phone, {"acks": pending})
    assert capped.issue(owner.token, phone.device_id, "ring")


def test_a_second_wipe_while_one_is_pending_answers_the_pending_one(world: World) -> None:
    owner, phone = bound_phone(world)
    first = commands(world).issue(owner.token, phone.device_id, "wipe")
    assert commands(world).issue(owner.token, phone.device_id, "wipe") == first
    assert len(world.act(world.checkin(), phone)["commands"]) == 1


def test_a_password_reset_cancels_the_accounts_pending_wipes(world: World) -> None:
    owner, phone = bound_phone(world)
    other_phone = world.phone(activated=True)
    world.bind(other_phone, owner)
    wipe = commands(world).issue(owner.token, phone.device_id, "wipe")
    ring = commands(world).issue(owner.token, phone.device_id, "ring")
    done = commands(world).issue(owner.token, other_phone.device_id, "wipe")
    world.act(world.checkin(), other_phone, {"acks": [done]})
    reset = PasswordReset(world.uow, world.clock, 30, COOLDOWN / 3600)
    reset.request(owner.email, "192.0.2.1")
    reset.process_pending()
    mail = [m for m in world.uow.mail_to(owner.email) if m.subject == "Reset your password"]
    token = re.search(r"^    (\S+)$", mail[-1].body, re.M)
    assert token is not None
    reset.confirm(token.group(1), "a brand new passphrase")
    assert world.act(world.checkin(), phone)["commands"] == [{"id": ring, "type": "ring"}]
    world.sign_in_again(owner)
    states = {c["command_id"]: c["state"] for c in listed(world, owner, phone)}
    assert states == {wipe: "cancelled", ring: "pending"}
    assert "command.wipe.cancelled" in world.uow.actions(f"device:{phone.device_id}")
    assert "command.wipe.cancelled" not in world.uow.actions(f"device:{other_phone.device_id}")
    assert world.uow.mail_to(owner.email)[-1].subject == (
        "Pending wipes of your devices were cancelled")


def test_a_wipe_releases_no_claim(world: World) -> None:
    owner, phone = bound_phone(world)
    LostMode(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN)).report(
        owner.token, phone.device_id, "Please call me", CONTACT)
    wipe = commands(world).issue(owner.token, phone.device_id, "wipe")
    world.act(world.checkin(), phone, {"acks": [wipe]})
    kinds = [c.kind for c in world.uow.active_claims(phone.device_id)]
    assert sorted(kinds) == sorted([ClaimKind.OWNER, ClaimKind.LOST])
    record = world.act(world.activation(), phone)
    assert [lock["kind"] for lock in record["locks"]] == ["lost", "owner"]
    assert record["locks"][0]["message"] == "Please call me"
    assert record["locks"][0]["contact"] == CONTACT
