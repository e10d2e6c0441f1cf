"""Activation (first, and after every factory reset): the owner's lock, the cool-down,
and territory policy."""

from __future__ import annotations

from dataclasses import replace

from tenure.domain.model import ClaimKind

from .conftest import COOLDOWN, World

DENY_CN = """
[markets]
cn = ["CN"]

[[rules]]
id = "cn-only"
effect = "deny_activation"
match = { markets = ["cn"] }
territories = ["*"]

[[rules]]
id = "cn-home"
effect = "allow"
match = { markets = ["cn"] }
territories = ["@cn"]
"""


def activated_at(world: World, device_id: str) -> int | None:
    return world.uow.state.devices[device_id].device.activated_at


def test_an_unclaimed_device_activates(world: World) -> None:
    phone = world.phone()
    record = world.act(world.activation(), phone, {"signals": {"sim_mcc": ["262"]}})
    assert record["status"] == "activated" and record["sub"] == phone.device_id
    assert activated_at(world, phone.device_id) == world.clock.now()
    assert world.uow.actions(f"device:{phone.device_id}") == ["device.activated"]


def test_a_bound_device_stays_locked_without_its_owners_credential(world: World) -> None:
    owner, stranger = world.owner(), world.owner()
    phone = world.phone(activated=True)
    world.bind(phone, owner)
    record = world.act(world.activation(), phone)
    assert record["status"] == "locked" and record["locks"][0]["kind"] == "owner"
    assert record["owner"]["hint"]
    assert activated_at(world, phone.device_id) is None  # reset and refused: locked for use
    assert world.act(world.activation(), phone,
                     {"account_token": stranger.token})["status"] == "locked"
    assert world.uow.actions(f"device:{phone.device_id}")[-1] == "device.activation_refused"
    assert world.act(world.activation(), phone,
                     {"account_token": owner.token})["status"] == "activated"


def test_a_recently_changed_password_does_not_lift_the_lock_until_the_cooldown_ends(
        world: World) -> None:
    owner = world.owner()
    phone = world.phone()
    world.bind(phone, owner)
    accounts = world.uow.state.accounts
    accounts[owner.account_id] = replace(accounts[owner.account_id],
                                         password_changed_at=world.clock.now())
    record = world.act(world.activation(), phone, {"account_token": owner.token})
    assert record["status"] == "locked"
    assert record["locks"][0]["until"] == world.clock.now() + COOLDOWN
    world.clock.advance(COOLDOWN)
    assert world.act(world.activation(), phone,
                     {"account_token": owner.token})["status"] == "activated"


def test_territory_policy_refuses_activation_where_it_says(world: World) -> None:
    world.apply_policy(DENY_CN)
    phone = world.phone(market="cn")
    world.locator.table["203.0.113.5"] = "DE"
    record = world.act(world.activation(), phone, {"signals": {"sim_mcc": ["262"]}},
                       source_ip="203.0.113.5")
    assert record["status"] == "locked"
    assert record["locks"][0]["kind"] == "territory" and record["locks"][0]["rule"] == "cn-only"
    assert record["policy_version"] == 1
    assert world.uow.state.territory[phone.device_id].territory == "DE"
    at_home = world.act(world.activation(), phone, {"signals": {"sim_mcc": ["460"]}},
                        source_ip="203.0.113.6")
    assert at_home["status"] == "activated"


def test_a_territory_lock_that_no_longer_applies_is_released_at_activation(
        world: World) -> None:
    phone = world.phone()
    world.claim(phone, ClaimKind.TERRITORY, "policy:gone", message="Locked here",
                territory="IR")
    record = world.act(world.activation(), phone, {"signals": {"sim_mcc": ["262"]}})
    assert record["status"] == "activated"
    assert world.uow.active_claims(phone.device_id) == ()
    assert "claim.territory.released" in world.uow.actions(f"device:{phone.device_id}")
