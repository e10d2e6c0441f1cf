"""Password reset by mailed token, and the cool-down that keeps the new password from
lifting activation locks at once."""

from __future__ import annotations

import re

import pytest

from tenure.crypto.passwords import verify_password
from tenure.domain.errors import (
    CredentialCoolingDown,
    InvalidToken,
    RateLimitExceeded,
    WeakPassword,
)
from tenure.services.limits import Limit
from tenure.services.password_reset import PasswordReset
from tenure.services.tokens import digest

from .conftest import COOLDOWN, World

NEW = "a brand new passphrase"


def reset(world: World) -> PasswordReset:
    return PasswordReset(world.uow, world.clock, 30, COOLDOWN / 3600)


def ask(world: World, email: str, client: str = "192.0.2.1") -> None:
    """Ask for a reset, then run the background step that turns the queue into mail."""
    service = reset(world)
    service.request(email, client)
    service.process_pending()


def mailed_token(world: World, email: str) -> str:
    mail = [m for m in world.uow.mail_to(email) if m.subject == "Reset your password"][-1]
    found = re.search(r"^    (\S+)$", mail.body, re.M)
    assert found is not None
    return found.group(1)


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(world: World) -> None:
    ask(world, "nobody@example.com")
    assert world.uow.state.outbox == {} and world.uow.state.resets == {}
    assert world.uow.state.reset_requests == {}


def test_a_request_only_queues_one_uniform_row_whether_or_not_the_account_exists(
        world: World) -> None:
    """Regression: the request itself looked the account up and wrote token, audit and
    mail for a known address only, so its timing told which accounts exist."""
    owner = world.owner()
    service = reset(world)
    service.request(owner.email, "192.0.2.1")
    service.request("nobody@example.com", "192.0.2.1")
    assert sorted(email for email, _ in world.uow.state.reset_requests.values()) == sorted(
        [owner.email, "nobody@example.com"])
    assert world.uow.state.outbox == {} and world.uow.state.resets == {}
    assert world.uow.actions(f"account:{owner.account_id}") == []
    assert service.process_pending() == 2
    assert world.uow.state.reset_requests == {}
    assert [m.to_addr for m in world.uow.mail_to(owner.email)] == [owner.email]
    assert len(world.uow.state.outbox) == 1


def test_requests_are_limited_per_client_address_with_a_retry_time(world: World) -> None:
    service = PasswordReset(world.uow, world.clock, 30, COOLDOWN / 3600,
                            per_address=Limit("reset-ip", 2, 3600))
    service.request("a@example.com", "192.0.2.1")
    service.request("b@example.com", "192.0.2.1")
    with pytest.raises(RateLimitExceeded) as refused:
        service.request("c@example.com", "192.0.2.1")
    assert 1 <= refused.value.extensions["retry_after"] <= 3600
    service.request("c@example.com", "198.51.100.7")  # another address is not limited
    assert len(world.uow.state.reset_requests) == 3
    world.clock.advance(3600)  # the next window
    service.request("d@example.com", "192.0.2.1")
    assert len(world.uow.state.reset_requests) == 4


def test_past_the_per_email_limit_requests_are_dropped_silently(world: World) -> None:
    """The same answer (no error) so as not to tell whether the account exists, and no
    more mail: a mailbox cannot be flooded with reset links."""
    owner = world.owner()
    service = PasswordReset(world.uow, world.clock, 30, COOLDOWN / 3600,
                            per_email=Limit("reset-email", 3, 3600))
    for i in range(6):
        service.request(owner.email, f"192.0.2.{i}")
    service.process_pending()
    assert len([m for m in world.uow.mail_to(owner.email)
                if m.subject == "Reset your password"]) == 3


def test_a_queued_request_is_taken_by_one_worker_only(world: World) -> None:
    owner = world.owner()
    service = reset(world)
    service.request(owner.email, "192.0.2.1")
    (request_id,) = world.uow.state.reset_requests
    with world.uow() as tx:
        assert tx.reset_requests.take(request_id)  # another worker took it first
    service.process_pending()
    assert world.uow.mail_to(owner.email) == []


def test_confirming_sets_the_password_revokes_sessions_and_tells_the_owner(
        world: World) -> None:
    owner = world.owner()
    ask(world, owner.email.upper())
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
    ask(world, owner.email)
    first = mailed_token(world, owner.email)
    reset(world).confirm(first, NEW)
    with pytest.raises(InvalidToken):
        reset(world).confirm(first, "yet another passphrase")
    ask(world, owner.email)
    late = mailed_token(world, owner.email)
    world.clock.advance(31 * 60)
    with pytest.raises(InvalidToken):
        reset(world).confirm(late, "yet another passphrase")


def test_a_new_token_voids_none_but_a_confirmed_reset_voids_the_others(world: World) -> None:
    owner = world.owner()
    ask(world, owner.email)
    older = mailed_token(world, owner.email)
    ask(world, owner.email)
    newer = mailed_token(world, owner.email)
    reset(world).confirm(newer, NEW)
    with pytest.raises(InvalidToken):
        reset(world).confirm(older, "yet another passphrase")


def test_a_weak_new_password_is_refused_and_the_token_kept(world: World) -> None:
    owner = world.owner()
    ask(world, owner.email)
    token = mailed_token(world, owner.email)
    with pytest.raises(WeakPassword):
        reset(world).confirm(token, "short")
    assert world.uow.state.resets[digest(token)]["used_at"] is None


def test_after_a_reset_the_account_cannot_unbind_until_the_cooldown_passes(
        world: World) -> None:
    owner = world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    ask(world, owner.email)
    reset(world).confirm(mailed_token(world, owner.email), NEW)
    world.sign_in_again(owner)
    binding = world.binding()
    with pytest.raises(CredentialCoolingDown) as cooling:
        world.act(binding.unbind, phone, {"account_token": owner.token})
    assert cooling.value.extensions["until"] == world.clock.now() + COOLDOWN
    world.clock.advance(COOLDOWN)
    world.sign_in_again(owner)
    world.act(binding.unbind, phone, {"account_token": owner.token})
    assert world.uow.active_claims(phone.device_id) == ()
