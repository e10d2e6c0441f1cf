"""What the account page shows of an account: the second factor's state, and until when
a sign-in is recent and a reset password cools down — the same times the rules use."""

from __future__ import annotations

from dataclasses import replace

import pyotp
import pytest

from tenure.domain.errors import Unauthorized
from tenure.services.account_view import AccountView
from tenure.services.authn import OwnerActions
from tenure.services.totp import SecondFactor

from .conftest import COOLDOWN, REAUTH, World


def view(world: World) -> AccountView:
    return AccountView(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))


def test_a_new_account_has_no_second_factor_and_no_cool_down(world: World) -> None:
    owner = world.owner("erin@example.com")
    summary = view(world)(owner.token)
    assert (summary.email, summary.second_factor, summary.cooldown_until) == (
        "erin@example.com", "off", None)
    assert summary.fresh_until == world.clock.now() + REAUTH


def test_the_second_factor_goes_from_pending_to_on(world: World) -> None:
    owner = world.owner()
    factor = SecondFactor(world.uow, world.clock, OwnerActions(REAUTH, COOLDOWN))
    secret = factor.enroll(owner.token).secret
    assert view(world)(owner.token).second_factor == "pending"
    factor.confirm(owner.token, pyotp.TOTP(secret).at(world.clock.now()))
    summary = view(world)(owner.token)
    assert (summary.second_factor, summary.recovery_codes_left) == ("on", 10)


def test_a_reset_password_shows_when_its_cool_down_ends(world: World) -> None:
    owner = world.owner()
    changed = world.clock.now()
    accounts = world.uow.state.accounts
    accounts[owner.account_id] = replace(accounts[owner.account_id],
                                         password_changed_at=changed)
    assert view(world)(owner.token).cooldown_until == changed + COOLDOWN
    world.clock.advance(COOLDOWN)
    assert view(world)(owner.token).cooldown_until is None


def test_no_session_no_view(world: World) -> None:
    with pytest.raises(Unauthorized):
        view(world)("not-a-session")
