"""The second factor (TOTP): enrolment, confirmation, and what it changes at sign-in."""

from __future__ import annotations

import pyotp
import pytest

from tenure.domain.errors import (
    InvalidCredentials,
    InvalidInput,
    NotFound,
    ReauthenticationRequired,
    TooManyAttempts,
    TotpEnabled,
    TotpRequired,
)
from tenure.services.authn import OwnerActions
from tenure.services.sessions import ACCOUNT_THRESHOLD, SignIn
from tenure.services.totp import SecondFactor

from .conftest import COOLDOWN, HOUR, PASSWORD, REAUTH, Owner, World

ADDRESS = "198.51.100.7"


def factor(world: World) -> SecondFactor:
    return SecondFactor(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))


def sign_in(world: World, email: str, totp: str | None = None,
            password: str = PASSWORD) -> str:
    return SignIn(world.uow, world.clock, 24 * HOUR)(email, password, ADDRESS, totp).token


def code(secret: str, world: World, steps: int = 0) -> str:
    """What an authenticator shows `steps` time-steps away from the service's clock."""
    return pyotp.TOTP(secret).at(world.clock.now() + 30 * steps)


def turn_on(world: World, owner: Owner) -> tuple[str, list[str]]:
    secret = factor(world).enroll(owner.token).secret
    return secret, factor(world).confirm(owner.token, code(secret, world))


def test_enrolment_gives_a_secret_and_an_otpauth_uri_for_the_account(world: World) -> None:
    owner = world.owner("dana@example.com")
    enrolment = factor(world).enroll(owner.token)
    parsed = pyotp.parse_uri(enrolment.otpauth_uri)
    assert parsed.secret == enrolment.secret and parsed.digits == 6 and parsed.interval == 30
    assert "dana%40example.com" in enrolment.otpauth_uri
    assert world.uow.state.totp[owner.account_id].enabled_at is None


def test_enrolment_needs_a_fresh_sign_in(world: World) -> None:
    owner = world.owner()
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        factor(world).enroll(owner.token)


def test_enrolling_again_before_confirming_replaces_the_pending_secret(world: World) -> None:
    owner = world.owner()
    first = factor(world).enroll(owner.token).secret
    second = factor(world).enroll(owner.token).secret
    assert first != second
    with pytest.raises(InvalidInput):
        factor(world).confirm(owner.token, code(first, world))
    assert len(factor(world).confirm(owner.token, code(second, world))) == 10


def test_confirming_turns_it_on_mails_the_owner_and_refuses_enrolling_again(
        world: World) -> None:
    owner = world.owner()
    _, recovery = turn_on(world, owner)
    assert len(set(recovery)) == 10
    assert world.uow.state.totp[owner.account_id].enabled_at == world.clock.now()
    assert "account.totp_enabled" in world.uow.actions(f"account:{owner.account_id}")
    assert any("Two-step" in m.subject for m in world.uow.mail_to(owner.email))
    stored = [h for (_, h) in world.uow.state.recovery]
    assert not set(recovery) & set(stored)  # only hashes are kept
    with pytest.raises(TotpEnabled):
        factor(world).enroll(owner.token)
    with pytest.raises(TotpEnabled):
        factor(world).confirm(owner.token, code(world.uow.state.totp[owner.account_id].secret,
                                                world, 1))


def test_a_wrong_confirmation_code_is_invalid_input_and_leaves_it_off(world: World) -> None:
    owner = world.owner()
    secret = factor(world).enroll(owner.token).secret
    wrong = f"{(int(code(secret, world)) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidInput):
        factor(world).confirm(owner.token, wrong)
    assert world.uow.state.totp[owner.account_id].enabled_at is None
    sign_in(world, owner.email)  # still no second factor needed


def test_the_confirming_code_counts_as_used(world: World) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, code(secret, world))


def test_once_on_a_right_password_without_a_code_is_totp_required(world: World) -> None:
    owner = world.owner()
    turn_on(world, owner)
    with pytest.raises(TotpRequired):
        sign_in(world, owner.email)
    assert world.uow.state.throttle[f"email:{owner.email}"].failures == 1


def test_a_wrong_password_stays_invalid_credentials_with_or_without_a_code(
        world: World) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    world.clock.advance(30)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, password="not the password")
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, code(secret, world), password="not the password")


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(world: World, steps: int) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    world.clock.advance(5 * 30)
    assert sign_in(world, owner.email, code(secret, world, steps))


@pytest.mark.parametrize("steps", [-2, 2])
def test_two_steps_of_drift_are_refused(world: World, steps: int) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    world.clock.advance(5 * 30)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, code(secret, world, steps))


def test_a_code_is_accepted_once_and_no_earlier_one_after_it(world: World) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    world.clock.advance(60)
    current = code(secret, world)
    sign_in(world, owner.email, current)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, current)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, code(secret, world, -1))
    world.clock.advance(30)
    sign_in(world, owner.email, code(secret, world))


def test_a_recovery_code_works_once(world: World) -> None:
    owner = world.owner()
    _, recovery = turn_on(world, owner)
    sign_in(world, owner.email, recovery[3].upper())  # case and dashes do not matter
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, recovery[3])
    sign_in(world, owner.email, recovery[4].replace("-", ""))


def test_wrong_codes_are_counted_by_the_throttle_like_wrong_passwords(world: World) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    for _ in range(ACCOUNT_THRESHOLD):
        with pytest.raises(InvalidCredentials):
            sign_in(world, owner.email, "000000x")
    with pytest.raises(TooManyAttempts):
        sign_in(world, owner.email, code(secret, world, 1))
    assert world.uow.state.throttle[f"email:{owner.email}"].failures == ACCOUNT_THRESHOLD


def test_a_right_code_clears_the_count(world: World) -> None:
    owner = world.owner()
    secret, _ = turn_on(world, owner)
    with pytest.raises(TotpRequired):
        sign_in(world, owner.email)
    world.clock.advance(30)
    sign_in(world, owner.email, code(secret, world))
    assert f"email:{owner.email}" not in world.uow.state.throttle


# -- turning it off, new recovery codes (our extension, docs/protocol.md) -------------------

def test_turning_off_needs_a_fresh_sign_in_and_a_current_code(world: World) -> None:
    owner = world.owner()
    secret, recovery = turn_on(world, owner)
    with pytest.raises(InvalidInput):
        factor(world).disable(owner.token, "000000")
    world.clock.advance(REAUTH + 1)
    with pytest.raises(ReauthenticationRequired):
        factor(world).disable(owner.token, code(secret, world))
    world.sign_in_again(owner)
    factor(world).disable(owner.token, recovery[0])
    assert world.uow.state.totp == {}
    assert world.uow.mail_to(owner.email)[-1].subject.endswith("is off for your account")
    assert sign_in(world, owner.email)  # no second factor needed any more
    with pytest.raises(NotFound):
        factor(world).disable(world.sign_in_again(owner).token, code(secret, world, 1))


def test_new_recovery_codes_replace_every_old_one(world: World) -> None:
    owner = world.owner()
    secret, old = turn_on(world, owner)
    world.clock.advance(30)
    new = factor(world).regenerate(owner.token, code(secret, world))
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(InvalidCredentials):
        sign_in(world, owner.email, old[1])
    assert sign_in(world, owner.email, new[0])
