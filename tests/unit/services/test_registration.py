"""Registration: one account per address, stored normalised, with a usable password."""

from __future__ import annotations

import pytest

from tenure.crypto.passwords import verify_password
from tenure.domain.errors import EmailTaken, InvalidInput, WeakPassword
from tenure.services.accounts import Registration

from .conftest import PASSWORD, World


def test_registers_the_address_normalised_with_a_hashed_password(world: World) -> None:
    made = Registration(world.uow, world.clock)("  Alice@Example.COM ", PASSWORD)
    assert made.email == "alice@example.com"
    stored = world.uow.state.accounts[made.account_id]
    assert stored.email == "alice@example.com"
    assert stored.password_hash != PASSWORD and verify_password(stored.password_hash, PASSWORD)
    assert world.uow.actions(f"account:{made.account_id}") == ["account.created"]


def test_an_address_registers_once_whatever_its_case(world: World) -> None:
    world.owner("bob@example.com")
    with pytest.raises(EmailTaken):
        Registration(world.uow, world.clock)("BOB@example.com", PASSWORD)
    assert len(world.uow.state.accounts) == 1


@pytest.mark.parametrize("email", ["not-an-address", "a@b", None, "x" * 250 + "@example.com"])
def test_refuses_what_is_not_an_email_address(world: World, email: object) -> None:
    with pytest.raises(InvalidInput):
        Registration(world.uow, world.clock)(email, PASSWORD)
    assert world.uow.state.accounts == {}


@pytest.mark.parametrize("password", ["short", "password123", "aaaaaaaaaaaa"])
def test_refuses_weak_passwords_before_writing_anything(world: World, password: str) -> None:
    with pytest.raises(WeakPassword):
        Registration(world.uow, world.clock)("carol@example.com", password)
    assert world.uow.state.accounts == {} and world.uow.commits == 0
