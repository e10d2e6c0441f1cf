"""Bootloader unlock: the bound owner, freshly signed in, after the waiting period,
within the quota, with a token the device's bootloader signed."""

from __future__ import annotations

import secrets

import pytest

from tenure.crypto.jws import parse_compact, sign_compact
from tenure.crypto.keys import SigningKey
from tenure.domain.errors import Malformed, ReauthenticationRequired, UnlockNotPermitted
from tenure.domain.model import ClaimKind
from tenure.services.authn import OwnerActions
from tenure.services.unlock import BL_TYP, UNLOCK_TYP, UnlockAuthorization, rules_from

from .conftest import COOLDOWN, HOUR, REAUTH, Owner, Phone, World

RULES = rules_from(168, 1, 365, 14)


def unlock(world: World) -> UnlockAuthorization:
    return UnlockAuthorization(world.uow, world.keyring, world.clock, "https://tenure.test",
                               RULES, OwnerActions(REAUTH, COOLDOWN))


def bl_token(world: World, phone: Phone, key: SigningKey | None = None,
             typ: str = BL_TYP, age: int = 0) -> tuple[str, str]:
    nonce = secrets.token_urlsafe(16)
    token = sign_compact({"typ": typ}, {"sub": phone.device_id, "nonce": nonce,
                                        "iat": world.clock.now() - age}, key or phone.key)
    return token, nonce


def bound_a_week_ago(world: World) -> tuple[Phone, Owner]:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    world.clock.advance(168 * HOUR)
    return phone, world.sign_in_again(owner)


def test_the_owner_gets_a_token_bound_to_this_device_and_boot(world: World) -> None:
    phone, owner = bound_a_week_ago(world)
    bearer = owner.token
    token, nonce = bl_token(world, phone)
    granted = parse_compact(unlock(world)(bearer, token))
    assert granted.header["typ"] == UNLOCK_TYP
    assert granted.verify_with(world.keyring.active.key.public())
    payload = granted.payload()
    assert (payload["sub"], payload["bl_nonce"]) == (phone.device_id, nonce)
    assert payload["exp"] == world.clock.now() + 14 * 86400
    assert len(world.uow.state.grants) == 1
    assert world.uow.actions(f"device:{phone.device_id}") == ["bootloader.unlock_granted"]


def test_before_the_waiting_period_it_is_refused_with_when_to_retry(world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    bound_at = world.clock.now()
    with pytest.raises(UnlockNotPermitted) as refused:
        unlock(world)(owner.token, bl_token(world, phone)[0])
    assert refused.value.extensions["retry_after"] == bound_at + 168 * HOUR
    assert world.uow.state.grants == []
    assert world.uow.actions(f"device:{phone.device_id}") == ["bootloader.unlock_refused"]


def test_the_quota_is_one_device_a_year(world: World) -> None:
    phone, owner = bound_a_week_ago(world)
    bearer = owner.token
    second = world.phone(activated=True)
    world.bind(second, owner)
    world.clock.advance(168 * HOUR)
    bearer = world.sign_in_again(owner).token
    unlock(world)(bearer, bl_token(world, phone)[0])
    unlock(world)(bearer, bl_token(world, phone)[0])  # the same device again is fine
    with pytest.raises(UnlockNotPermitted):
        unlock(world)(bearer, bl_token(world, second)[0])


def test_a_lost_device_cannot_be_unlocked(world: World) -> None:
    phone, owner = bound_a_week_ago(world)
    bearer = owner.token
    world.claim(phone, ClaimKind.LOST, "someone", message="Lost")
    with pytest.raises(UnlockNotPermitted, match="reported lost"):
        unlock(world)(bearer, bl_token(world, phone)[0])


def test_tokens_not_from_this_devices_bootloader_are_refused(world: World) -> None:
    phone, owner = bound_a_week_ago(world)
    bearer = owner.token
    for token in (bl_token(world, phone, key=SigningKey.generate())[0],
                  bl_token(world, phone, typ="tenure-record+jwt")[0],
                  bl_token(world, phone, age=2 * HOUR)[0]):
        with pytest.raises(UnlockNotPermitted):
            unlock(world)(bearer, token)
    with pytest.raises(Malformed):
        unlock(world)(bearer, "not a token")
    assert world.uow.state.grants == []


def test_it_needs_a_fresh_sign_in(world: World) -> None:
    phone, owner = bound_a_week_ago(world)
    bearer = owner.token
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        unlock(world)(bearer, bl_token(world, phone)[0])
