"""Password reset by mailed token, and the cool-down that keeps the new password from
lifting activation locks at once."""

from __future__ import annotations

import re

import pytest

from tenure.crypto.passwords import verify_password
from tenure.domain.errors import CredentialCoolingDown, InvalidToken, WeakPassword
from tenure.services.password_reset import PasswordReset
from tenure.services.tokens import digest

from .conftest import COOLDOWN, World

NEW = "a brand new passphrase"


def reset(world: World) -> PasswordReset:
    return PasswordReset(world.uow, world.clock, 30, COOLDOWN / 3600)


def mailed_token(world: World, email: str) -> str:
    mail = [m for m in world.uow.mail_to(email) if m.subject == "Reset your password"][-1]
    found = re.search(r"^    (\S+)$", mail.body, re.M)
    assert found is not None
    return found.group(1)


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(world: World) -> None:
    reset(world).request("nobody@example.com")
    assert world.uow.state.outbox == {} and world.uow.state.resets == {}


def test_confirming_sets_the_password_revokes_sessions_and_tells_the_owner(
        world: World) -> None:
    owner = world.owner()
    reset(world).request(owner.email.upper())
    token = mailed_token(world, owner.email)
    reset(world).confirm(token, NEW)
    account = world.uow.state.accounts[owner.account_id]
    assert verify_password(account.password_hash, NEW)
    assert account.password_changed_at == world.clock.now()
    assert world.uow.state.sessions[digest(owner.token)].revoked_at == world.clock.now()
    assert world.uow.mail_to(owner.email)[-1].subject == "Your password was changed"
    assert "account.password_changed" in world.uow.actions(f"account:{owner.account_id}")


def test_a_token_works_once_and_not_after_it_expires(world: World) -> None:
    owner = world.owner()
    reset(world).request(owner.email)
    first = mailed_token(world, owner.email)
    reset(world).confirm(first, NEW)
    with pytest.raises(InvalidToken):
        reset(world).confirm(first, "yet another passphrase")
    reset(world).request(owner.email)
    late = mailed_token(world, owner.email)
    world.clock.advance(31 * 60)
    with pytest.raises(InvalidToken):
        reset(world).confirm(late, "yet another passphrase")


def test_a_new_token_voids_none_but_a_confirmed_reset_voids_the_others(world: World) -> None:
    owner = world.owner()
    reset(world).request(owner.email)
    older = mailed_token(world, owner.email)
    reset(world).request(owner.email)
    newer = mailed_token(world, owner.email)
    reset(world).confirm(newer, NEW)
    with pytest.raises(InvalidToken):
        reset(world).confirm(older, "yet another passphrase")


def test_a_weak_new_password_is_refused_and_the_token_kept(world: World) -> None:
    owner = world.owner()
    reset(world).request(owner.email)
    token = mailed_token(world, owner.email)
    with pytest.raises(WeakPassword):
        reset(world).confirm(token, "short")
    assert world.uow.state.resets[digest(token)]["used_at"] is None


def test_after_a_reset_the_account_cannot_unbind_until_the_cooldown_passes(
        world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    reset(world).request(owner.email)
    reset(world).confirm(mailed_token(world, owner.email), NEW)
    world.sign_in_again(owner)
    binding = world.binding()
    with pytest.raises(CredentialCoolingDown) as cooling:
        world.act(binding.unbind, phone, {"account_token": owner.token})
    assert cooling.value.extensions["retry_after"] == world.clock.now() + COOLDOWN
    world.clock.advance(COOLDOWN)
    world.sign_in_again(owner)
    world.act(binding.unbind, phone, {"account_token": owner.token})
    assert world.uow.active_claims(phone.device_id) == ()
