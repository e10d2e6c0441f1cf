"""Signing in, and the throttle that slows guessing without locking an owner out."""

from __future__ import annotations

import pytest

from tenure.crypto.passwords import needs_rehash
from tenure.domain.errors import InvalidCredentials, InvalidInput, TooManyAttempts
from tenure.services.hashing import PasswordHashing
from tenure.services.sessions import ACCOUNT_THRESHOLD, BASE_DELAY, SignIn
from tenure.services.tokens import digest

from .conftest import HOUR, PASSWORD, World

TTL = 24 * HOUR


def sign_in(world: World) -> SignIn:
    return SignIn(world.uow, world.clock, TTL)


def test_a_correct_password_opens_a_session_of_the_configured_length(world: World) -> None:
    owner = world.owner("dana@example.com")
    session = sign_in(world)("Dana@Example.com", PASSWORD, "198.51.100.7")
    assert session.expires_at == world.clock.now() + TTL
    stored = world.uow.state.sessions[digest(session.token)]
    assert stored.account_id == owner.account_id and stored.revoked_at is None


def test_signing_in_upgrades_a_hash_made_with_older_parameters(world: World) -> None:
    owner = world.owner()
    assert needs_rehash(world.uow.state.accounts[owner.account_id].password_hash)
    sign_in(world)(owner.email, PASSWORD, "198.51.100.7")
    account = world.uow.state.accounts[owner.account_id]
    assert not needs_rehash(account.password_hash)
    assert account.password_changed_at is None  # an upgrade is not a password change


def test_a_wrong_password_is_refused_and_counted(world: World) -> None:
    owner = world.owner()
    with pytest.raises(InvalidCredentials):
        sign_in(world)(owner.email, "not the password", "198.51.100.7")
    assert world.uow.state.throttle[f"email:{owner.email}"].failures == 1
    assert world.uow.state.throttle["ip:198.51.100.7"].failures == 1
    assert len(world.uow.state.sessions) == 1  # only the one the seeding opened


def test_an_empty_password_is_invalid_input_not_a_failure(world: World) -> None:
    owner = world.owner()
    with pytest.raises(InvalidInput):
        sign_in(world)(owner.email, "", "198.51.100.7")
    assert world.uow.state.throttle == {}


def fail(world: World, email: str, times: int, address: str = "198.51.100.7") -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            sign_in(world)(email, "wrong guess", address)


def test_repeated_failures_pause_sign_in_and_mail_the_owner_once(world: World) -> None:
    owner = world.owner()
    fail(world, owner.email, ACCOUNT_THRESHOLD)
    with pytest.raises(TooManyAttempts) as paused:
        sign_in(world)(owner.email, PASSWORD, "203.0.113.9")  # even the right password
    assert paused.value.extensions["retry_after"] == BASE_DELAY
    assert [m.subject for m in world.uow.mail_to(owner.email)] == [
        "Failed sign-in attempts on your account"]
    assert "account.sign_in_paused" in world.uow.actions(f"account:{owner.account_id}")
    world.clock.advance(BASE_DELAY)
    fail(world, owner.email, 1)  # a further failure pauses again, for longer
    with pytest.raises(TooManyAttempts) as again:
        sign_in(world)(owner.email, PASSWORD, "203.0.113.9")
    assert again.value.extensions["retry_after"] == 2 * BASE_DELAY
    assert len(world.uow.mail_to(owner.email)) == 1


def test_the_pause_ends_and_a_success_clears_the_count(world: World) -> None:
    owner = world.owner()
    fail(world, owner.email, ACCOUNT_THRESHOLD)
    world.clock.advance(BASE_DELAY)
    sign_in(world)(owner.email, PASSWORD, "198.51.100.7")
    assert f"email:{owner.email}" not in world.uow.state.throttle


def test_failures_a_day_old_are_forgotten(world: World) -> None:
    owner = world.owner()
    fail(world, owner.email, ACCOUNT_THRESHOLD - 1)
    world.clock.advance(25 * HOUR)
    fail(world, owner.email, 1)
    assert world.uow.state.throttle[f"email:{owner.email}"].failures == 1


class WatchedHashing(PasswordHashing):
    """The real argon2 check, noting what the throttle held when each check began."""

    def __init__(self, world: World) -> None:
        super().__init__(workers=1, queue=4)
        self.world = world
        self.seen: list[tuple[int, int]] = []  # (email failures, email paused until)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        rows = self.world.uow.state.throttle
        row = next((r for k, r in rows.items() if k.startswith("email:")), None)
        self.seen.append((row.failures, row.blocked_until) if row else (0, 0))
        return super().verify(stored_hash, password)


def test_each_attempt_is_counted_before_its_password_is_checked(world: World) -> None:
    """Regression: failures were counted after the check, so a burst of simultaneous
    guesses all passed a throttle that had not seen the others. Now the count is
    committed first, and the attempt that reaches the threshold sets the pause before
    its own check: a concurrent attempt already finds the key paused."""
    owner = world.owner()
    hashing = WatchedHashing(world)
    try:
        service = SignIn(world.uow, world.clock, TTL, hashing)
        for _ in range(ACCOUNT_THRESHOLD):
            with pytest.raises(InvalidCredentials):
                service(owner.email, "wrong guess", "198.51.100.7")
        now = world.clock.now()
        assert hashing.seen == [(1, 0), (2, 0), (3, 0), (4, 0),
                                (ACCOUNT_THRESHOLD, now + BASE_DELAY)]
        with pytest.raises(TooManyAttempts):
            service(owner.email, PASSWORD, "198.51.100.7")
        assert len(hashing.seen) == ACCOUNT_THRESHOLD  # paused: no password checked
        assert world.uow.state.throttle[f"email:{owner.email}"].failures == ACCOUNT_THRESHOLD
    finally:
        hashing.close()


def test_a_success_takes_back_its_own_attempt_and_the_pause_it_set(world: World) -> None:
    owner = world.owner()
    fail(world, owner.email, ACCOUNT_THRESHOLD - 1)
    sign_in(world)(owner.email, PASSWORD, "198.51.100.7")  # the fifth attempt succeeds
    assert f"email:{owner.email}" not in world.uow.state.throttle
    address = world.uow.state.throttle["ip:198.51.100.7"]
    assert (address.failures, address.blocked_until) == (ACCOUNT_THRESHOLD - 1, 0)
    sign_in(world)(owner.email, PASSWORD, "198.51.100.7")  # not paused
