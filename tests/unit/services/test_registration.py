"""Registration: one account per address, stored normalised, with a usable password."""

from __future__ import annotations

import threading

import pytest

from tenure.crypto.passwords import verify_password
from tenure.domain.errors import (
    EmailTaken,
    InvalidInput,
    Overloaded,
    RateLimitExceeded,
    WeakPassword,
)
from tenure.services.accounts import Registration
from tenure.services.hashing import PasswordHashing
from tenure.services.limits import Limit

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


def test_sign_ups_are_limited_per_client_address(world: World) -> None:
    register = Registration(world.uow, world.clock, limit=Limit("signup-ip", 2, 3600))
    register("one@example.com", PASSWORD, "192.0.2.1")
    register("two@example.com", PASSWORD, "192.0.2.1")
    with pytest.raises(RateLimitExceeded) as refused:
        register("three@example.com", PASSWORD, "192.0.2.1")
    assert 1 <= refused.value.extensions["retry_after"] <= 3600
    register("three@example.com", PASSWORD, "198.51.100.7")  # another address
    world.clock.advance(3600)
    register("four@example.com", PASSWORD, "192.0.2.1")  # the next window
    assert len(world.uow.state.accounts) == 4


def test_a_sign_up_beyond_the_hashing_queue_is_refused_and_writes_nothing(
        world: World) -> None:
    hashing = PasswordHashing(workers=1, queue=0)
    gate = threading.Event()
    busy = threading.Thread(target=hashing.run, args=(gate.wait,))
    busy.start()
    try:
        with pytest.raises(Overloaded) as refused:
            Registration(world.uow, world.clock, hashing)("five@example.com", PASSWORD)
        assert refused.value.extensions["retry_after"] == 1
        assert world.uow.state.accounts == {}
    finally:
        gate.set()
        busy.join()
        hashing.close()
